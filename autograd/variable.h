// Var: a tensor that takes part in reverse-mode differentiation.
// A Var is a shared handle (copies alias the same value and gradient). Parameters are
// persistent leaves with requires_grad; op outputs require grad when any input does.
// Gradients are allocated on first accumulation and summed into (+=); a kernel that writes
// a whole gradient may instead take it uninitialised the first time (Var::grad_to_fill).
// A tape node whose backward reads no value of an input holds a GradHandle to it instead of
// the Var, so the value returns to the buffer pool as soon as the forward pass drops it.
#pragma once

#include <memory>

#include <tapelm/autograd/tensor.h>

namespace tapelm {

// The gradient half of a Var, shared by its copies and by the GradHandles taken from it.
struct GradSlot {
  Tensor grad;  // undefined until something accumulates into it
  bool requires_grad = false;
};

// A gradient buffer for a kernel that writes all of it: `accumulate` says whether to add
// into what is there or to overwrite it (the gradient did not exist yet).
struct GradFill {
  float* data;
  bool accumulate;
};

struct VarImpl {
  Tensor value;
  std::shared_ptr<GradSlot> slot;  // never null
  // The generation of the tape that recorded the op producing this value (Tape::generation);
  // 0 for a leaf (a parameter or an input), which belongs to no tape.
  uint64_t tape_generation = 0;
};

class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false)
      : impl_(std::make_shared<VarImpl>(
            VarImpl{std::move(value), std::make_shared<GradSlot>(GradSlot{Tensor(), requires_grad})})) {}

  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const { return impl_->value; }
  Tensor& value() { return impl_->value; }
  const Tensor& grad() const { return impl_->slot->grad; }
  Tensor& grad() { return impl_->slot->grad; }
  bool has_grad() const { return impl_->slot->grad.defined(); }
  bool requires_grad() const { return impl_ && impl_->slot->requires_grad; }
  void set_requires_grad(bool r) { impl_->slot->requires_grad = r; }
  uint64_t tape_generation() const { return impl_->tape_generation; }
  void set_tape_generation(uint64_t g) { impl_->tape_generation = g; }

  const Shape& shape() const { return impl_->value.shape(); }
  int64_t dim() const { return impl_->value.dim(); }
  int64_t size(int64_t d) const { return impl_->value.size(d); }
  int64_t numel() const { return impl_->value.numel(); }
  float* data() { return impl_->value.data(); }
  // Through value() const: a read must not count as a write of the storage (autograd/tensor.h).
  const float* data() const { return value().data(); }
  float item() const { return impl_->value.item(); }

  // A Var is a handle, so gradient bookkeeping is allowed through a const handle (as
  // with a const shared_ptr): closures on the tape capture their inputs by value.
  // The gradient buffer, created as zeros if it does not exist yet.
  Tensor& ensure_grad() const;
  // The gradient buffer for a kernel that covers all of it: created uninitialised, to be
  // overwritten, when it does not exist yet (no zero fill first), else to be added into.
  GradFill grad_to_fill() const;
  // grad += g (shapes must match exactly; broadcast reduction is the op's job).
  void add_grad(const Tensor& g) const;
  // Drops the gradient; the next accumulation starts from zero.
  void zero_grad() const { impl_->slot->grad = Tensor(); }

  bool same(const Var& other) const { return impl_ == other.impl_; }
  const VarImpl* impl() const { return impl_.get(); }

 private:
  friend class GradHandle;
  std::shared_ptr<VarImpl> impl_;
};

// A Var's gradient without its value: copies share the Var's gradient slot (requires_grad
// included) but keep only its shape, so holding one does not keep the value alive.
class GradHandle {
 public:
  GradHandle() = default;
  explicit GradHandle(const Var& v)
      : slot_(v.impl_ ? v.impl_->slot : nullptr), shape_(v.impl_ ? v.shape() : Shape{}) {}

  const Tensor& grad() const { return slot_->grad; }
  bool has_grad() const { return slot_->grad.defined(); }
  bool requires_grad() const { return slot_ && slot_->requires_grad; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return shape_numel(shape_); }
  // As Var::ensure_grad, Var::grad_to_fill and Var::add_grad.
  Tensor& ensure_grad() const;
  GradFill grad_to_fill() const;
  void add_grad(const Tensor& g) const;

 private:
  std::shared_ptr<GradSlot> slot_;
  Shape shape_;
};

}  // namespace tapelm
