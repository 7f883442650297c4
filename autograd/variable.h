// Var: a tensor that takes part in reverse-mode differentiation.
// A Var is a shared handle (copies alias the same value and gradient). Parameters are
// persistent leaves with requires_grad; op outputs require grad when any input does.
// Gradients are allocated on first accumulation and always summed into (+=).
#pragma once

#include <memory>

#include <tapelm/autograd/tensor.h>

namespace tapelm {

struct VarImpl {
  Tensor value;
  Tensor grad;  // undefined until something accumulates into it
  bool requires_grad = false;
  // The generation of the tape that recorded the op producing this value (Tape::generation);
  // 0 for a leaf (a parameter or an input), which belongs to no tape.
  uint64_t tape_generation = 0;
};

class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false)
      : impl_(std::make_shared<VarImpl>(VarImpl{std::move(value), Tensor(), requires_grad})) {}

  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const { return impl_->value; }
  Tensor& value() { return impl_->value; }
  const Tensor& grad() const { return impl_->grad; }
  Tensor& grad() { return impl_->grad; }
  bool has_grad() const { return impl_->grad.defined(); }
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  void set_requires_grad(bool r) { impl_->requires_grad = r; }
  uint64_t tape_generation() const { return impl_->tape_generation; }
  void set_tape_generation(uint64_t g) { impl_->tape_generation = g; }

  const Shape& shape() const { return impl_->value.shape(); }
  int64_t dim() const { return impl_->value.dim(); }
  int64_t size(int64_t d) const { return impl_->value.size(d); }
  int64_t numel() const { return impl_->value.numel(); }
  float* data() { return impl_->value.data(); }
  const float* data() const { return impl_->value.data(); }
  float item() const { return impl_->value.item(); }

  // A Var is a handle, so gradient bookkeeping is allowed through a const handle (as
  // with a const shared_ptr): closures on the tape capture their inputs by value.
  // The gradient buffer, created as zeros if it does not exist yet.
  Tensor& ensure_grad() const;
  // grad += g (shapes must match exactly; broadcast reduction is the op's job).
  void add_grad(const Tensor& g) const;
  // Drops the gradient; the next accumulation starts from zero.
  void zero_grad() const { impl_->grad = Tensor(); }

  bool same(const Var& other) const { return impl_ == other.impl_; }
  const VarImpl* impl() const { return impl_.get(); }

 private:
  std::shared_ptr<VarImpl> impl_;
};

}  // namespace tapelm
