// Adam / AdamW update loops.
#include <tapelm/optim/adam.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include <tapelm/optim/fmadd.h>

namespace tapelm {

namespace {

void check_config(const std::string& kind, const AdamConfig& c) {
  auto in_unit = [](double b) { return b >= 0.0 && b < 1.0; };
  if (!in_unit(c.beta1) || !in_unit(c.beta2) || !(c.eps >= 0.0) || !std::isfinite(c.eps)) {
    throw std::invalid_argument(kind + ": needs 0 <= beta1, beta2 < 1 and finite eps >= 0, got beta1 " +
                                std::to_string(c.beta1) + ", beta2 " + std::to_string(c.beta2) + ", eps " +
                                std::to_string(c.eps));
  }
}

}  // namespace

Adam::Adam(std::vector<ParamGroup> groups, AdamConfig config)
    : Adam(enum_name(OptimizerKind::Adam), std::move(groups), config, false) {}

Adam::Adam(std::string kind, std::vector<ParamGroup> groups, AdamConfig config, bool decoupled)
    : Optimizer(kind, std::move(groups), {"exp_avg", "exp_avg_sq"}), config_(config), decoupled_(decoupled) {
  check_config(kind, config_);
}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamConfig config)
    : Adam(enum_name(OptimizerKind::AdamW), std::move(groups), config, true) {}

void Adam::update(Slot& slot, double lr, double weight_decay) noexcept {
  const double t = static_cast<double>(slot.step);
  const double bias_correction1 = 1.0 - std::pow(config_.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(config_.beta2, t);
  // Scalars are rounded to float once, as torch passes Python floats into float kernels.
  // decay is 1 for Adam: multiplying by 1 is exact, so the loop needs no branch on the kind.
  const float decay = static_cast<float>(decoupled_ ? 1.0 - lr * weight_decay : 1.0);
  const float l2 = static_cast<float>(weight_decay);
  const float beta1 = static_cast<float>(config_.beta1);
  const float one_minus_beta1 = static_cast<float>(1.0 - config_.beta1);
  const float beta2 = static_cast<float>(config_.beta2);
  const float one_minus_beta2 = static_cast<float>(1.0 - config_.beta2);
  const float correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const float eps = static_cast<float>(config_.eps);
  const float neg_step_size = static_cast<float>(-(lr / bias_correction1));
  const bool coupled = !decoupled_ && weight_decay != 0.0;

  float* p = slot.param.data();
  const float* grad = slot.param.grad().data();
  float* m = slot.buffers[0].data();
  float* v = slot.buffers[1].data();
  const int64_t n = slot.param.numel();
#pragma omp for simd schedule(static) nowait
  for (int64_t i = 0; i < n; ++i) {
    // Each line is one torch op of _single_tensor_adam(w), rounded as torch rounds it.
    const float param = p[i] * decay;                                  // AdamW: param.mul_
    const float g = coupled ? fmadd(param, l2, grad[i]) : grad[i];     // Adam: grad.add(param, alpha)
    m[i] = fmadd(g, one_minus_beta1, m[i] * beta1);                    // mul_, add_(alpha)
    v[i] = fmadd(one_minus_beta2 * g, g, v[i] * beta2);                // mul_, addcmul_
    const float denom = std::sqrt(v[i]) / correction2_sqrt + eps;      // sqrt, div, add_
    p[i] = param + neg_step_size * m[i] / denom;                       // addcdiv_
  }
}

}  // namespace tapelm
