// Layer norm and RMS norm ops: validate, run the kernel, record one node.
#include <tapelm/autograd/norm.h>

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>

#include <tapelm/autograd/check.h>
#include <tapelm/autograd/grad_target.h>
#include <tapelm/autograd/kernels/norm.h>
#include <tapelm/autograd/record.h>

namespace tapelm {

namespace {

// The channel count C of x: [..., C]; checks that each parameter is [C].
int64_t channels_of(const char* op, const Var& x, std::initializer_list<std::pair<const char*, const Var*>> params) {
  check_defined(x, op, "x");
  if (x.dim() < 1) {
    throw ShapeError(std::string(op) + ": x must have at least one dimension, got shape " +
                     shape_str(x.shape()));
  }
  const int64_t C = x.size(-1);
  for (const auto& [name, p] : params) {
    if (!p->defined()) continue;
    if (p->shape() != Shape{C}) {
      throw ShapeError(std::string(op) + ": " + name + " has shape " + shape_str(p->shape()) +
                       ", expected [" + std::to_string(C) + "] to match x " + shape_str(x.shape()));
    }
  }
  return C;
}

}  // namespace

Var layernorm(const Var& x, const Var& weight, const Var& bias, float eps) {
  check_defined(weight, "layernorm", "weight");
  const int64_t C = channels_of("layernorm", x, {{"weight", &weight}, {"bias", &bias}});
  const int64_t N = C == 0 ? 0 : x.numel() / C;
  Var out(Tensor(x.shape()));
  Tensor mean({N});
  Tensor rstd({N});
  kernels::layernorm_forward<float>(out.data(), mean.data(), rstd.data(), x.data(), weight.data(),
                                    bias.defined() ? bias.data() : nullptr, N, C, eps);
  record_op("layernorm", out, {&x, &weight, &bias}, [x, weight, bias, mean, rstd, N, C](const Tensor& dout) {
    kernels::layernorm_backward<float>(grad_target(x), grad_target(weight), grad_target(bias), dout.data(),
                                       x.data(), weight.data(), mean.data(), rstd.data(), N, C);
  });
  return out;
}

Var rmsnorm(const Var& x, const Var& weight, float eps) {
  check_defined(weight, "rmsnorm", "weight");
  const int64_t C = channels_of("rmsnorm", x, {{"weight", &weight}});
  const int64_t N = C == 0 ? 0 : x.numel() / C;
  Var out(Tensor(x.shape()));
  Tensor rstd({N});
  kernels::rmsnorm_forward<float>(out.data(), rstd.data(), x.data(), weight.data(), N, C, eps);
  record_op("rmsnorm", out, {&x, &weight}, [x, weight, rstd, N, C](const Tensor& dout) {
    kernels::rmsnorm_backward<float>(grad_target(x), grad_target(weight), dout.data(), x.data(), weight.data(),
                                     rstd.data(), N, C);
  });
  return out;
}

}  // namespace tapelm
