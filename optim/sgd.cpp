// SGD update loop.
#include <tapelm/optim/sgd.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include <tapelm/optim/fmadd.h>

namespace tapelm {

namespace {

SgdConfig checked(SgdConfig config) {
  if (!(config.momentum >= 0.0) || !std::isfinite(config.momentum)) {
    throw std::invalid_argument("sgd: momentum must be finite and >= 0, got " + std::to_string(config.momentum));
  }
  return config;
}

std::vector<std::string> buffers_for(const SgdConfig& config) {
  if (config.momentum == 0.0) return {};
  return {"momentum_buffer"};
}

}  // namespace

Sgd::Sgd(std::vector<ParamGroup> groups, SgdConfig config)
    : Optimizer(enum_name(OptimizerKind::Sgd), std::move(groups), buffers_for(checked(config))), config_(config) {}

void Sgd::update(Slot& slot, double lr, double weight_decay) noexcept {
  const float l2 = static_cast<float>(weight_decay);
  const bool coupled = weight_decay != 0.0;
  const float momentum = static_cast<float>(config_.momentum);
  const float neg_lr = static_cast<float>(-lr);
  const bool has_buffer = !slot.buffers.empty();
  const bool first = slot.step == 1;

  float* p = slot.param.data();
  const float* grad = slot.param.grad().data();
  float* buf = has_buffer ? slot.buffers[0].data() : nullptr;
  const int64_t n = slot.param.numel();
#pragma omp for simd schedule(static) nowait
  for (int64_t i = 0; i < n; ++i) {
    // Each line is one torch op of _single_tensor_sgd, rounded as torch rounds it.
    float d = grad[i];
    if (coupled) d = fmadd(p[i], l2, d);                               // d_p.add(param, alpha)
    if (has_buffer) {
      buf[i] = first ? d : fmadd(d, 1.0f, buf[i] * momentum);          // clone / mul_, add_
      d = buf[i];
    }
    p[i] = fmadd(d, neg_lr, p[i]);                                     // param.add_(d_p, alpha)
  }
}

}  // namespace tapelm
