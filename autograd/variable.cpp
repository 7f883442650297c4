// Gradient accumulation for Var and GradHandle.
#include <tapelm/autograd/variable.h>

#include <stdexcept>

namespace tapelm {

namespace {

Tensor& ensure_grad_of(GradSlot& slot, const Shape& shape) {
  if (!slot.grad.defined()) slot.grad = Tensor::zeros(shape);
  return slot.grad;
}

GradFill grad_to_fill_of(GradSlot& slot, const Shape& shape) {
  if (slot.grad.defined()) return {slot.grad.data(), true};
  slot.grad = Tensor(shape);
  return {slot.grad.data(), false};
}

void add_grad_to(GradSlot& slot, const Shape& shape, const Tensor& g) {
  if (g.shape() != shape) {
    throw std::logic_error("add_grad: gradient of shape " + shape_str(g.shape()) +
                           " for a value of shape " + shape_str(shape));
  }
  const GradFill dst = grad_to_fill_of(slot, shape);
  const float* src = g.data();
  const int64_t n = g.numel();
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) dst.data[i] = dst.accumulate ? dst.data[i] + src[i] : src[i];
}

}  // namespace

Tensor& Var::ensure_grad() const { return ensure_grad_of(*impl_->slot, shape()); }
GradFill Var::grad_to_fill() const { return grad_to_fill_of(*impl_->slot, shape()); }
void Var::add_grad(const Tensor& g) const { add_grad_to(*impl_->slot, shape(), g); }
Tensor& GradHandle::ensure_grad() const { return ensure_grad_of(*slot_, shape_); }
GradFill GradHandle::grad_to_fill() const { return grad_to_fill_of(*slot_, shape_); }
void GradHandle::add_grad(const Tensor& g) const { add_grad_to(*slot_, shape_, g); }

}  // namespace tapelm
