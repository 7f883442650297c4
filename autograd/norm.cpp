// Layer norm and RMS norm ops: validate, run the kernel, record one node.
#include "autograd/norm.h"

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>

#include "autograd/check.h"
#include "autograd/grad_target.h"
#include "autograd/kernels/norm.h"
#include "autograd/tape.h"

namespace tapelm {

namespace {

// The channel count C of x: [..., C]; checks that each parameter is [C].
int64_t channels_of(const char* op, const Var& x, std::initializer_list<std::pair<const char*, const Var*>> params) {
  check_defined(x, op, "x");
  if (x.dim() < 1) {
    throw std::invalid_argument(std::string(op) + ": x must have at least one dimension, got shape " +
                                shape_str(x.shape()));
  }
  const int64_t C = x.size(-1);
  for (const auto& [name, p] : params) {
    if (!p->defined()) continue;
    if (p->shape() != Shape{C}) {
      throw std::invalid_argument(std::string(op) + ": " + name + " has shape " + shape_str(p->shape()) +
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
  if (any_requires_grad({&x, &weight, &bias})) {
    out.set_requires_grad(true);
    Tape::current().record([x, weight, bias, out, mean, rstd, N, C]() {
      if (!out.has_grad()) return;
      kernels::layernorm_backward<float>(grad_target(x), grad_target(weight), grad_target(bias), out.grad().data(),
                                         x.data(), weight.data(), mean.data(), rstd.data(), N, C);
    });
  }
  return out;
}

Var rmsnorm(const Var& x, const Var& weight, float eps) {
  check_defined(weight, "rmsnorm", "weight");
  const int64_t C = channels_of("rmsnorm", x, {{"weight", &weight}});
  const int64_t N = C == 0 ? 0 : x.numel() / C;
  Var out(Tensor(x.shape()));
  Tensor rstd({N});
  kernels::rmsnorm_forward<float>(out.data(), rstd.data(), x.data(), weight.data(), N, C, eps);
  if (any_requires_grad({&x, &weight})) {
    out.set_requires_grad(true);
    Tape::current().record([x, weight, out, rstd, N, C]() {
      if (!out.has_grad()) return;
      kernels::rmsnorm_backward<float>(grad_target(x), grad_target(weight), out.grad().data(), x.data(), weight.data(),
                                       rstd.data(), N, C);
    });
  }
  return out;
}

}  // namespace tapelm
