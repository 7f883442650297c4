// Gradient accumulation for Var.
#include <tapelm/autograd/variable.h>

#include <stdexcept>

namespace tapelm {

Tensor& Var::ensure_grad() const {
  if (!impl_->grad.defined()) impl_->grad = Tensor::zeros(impl_->value.shape());
  return impl_->grad;
}

void Var::add_grad(const Tensor& g) const {
  if (g.shape() != shape()) {
    throw std::logic_error("add_grad: gradient of shape " + shape_str(g.shape()) +
                           " for a value of shape " + shape_str(shape()));
  }
  Tensor& acc = ensure_grad();
  float* dst = acc.data();
  const float* src = g.data();
  const int64_t n = g.numel();
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

}  // namespace tapelm
