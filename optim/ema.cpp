// The exponential moving average of the trainable weights.
#include <tapelm/optim/ema.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace tapelm {

EmaWeights::EmaWeights(const NamedParameters& params, const NamedParameters& trainable, double decay)
    : decay_(decay), params_(params) {
  if (!(decay >= 0 && decay < 1)) {
    throw std::invalid_argument("EMA decay must be in [0, 1), got " + std::to_string(decay));
  }
  averaged_.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [name, param] = params[i];
    const bool averaged = std::any_of(trainable.begin(), trainable.end(),
                                      [&](const auto& entry) { return entry.second.same(param); });
    if (averaged) {
      trainable_.push_back(i);
      averaged_.emplace_back(name, Var(param.value().clone()));
    } else {
      averaged_.emplace_back(name, param);
    }
  }
}

double EmaWeights::decay_at(double decay, int64_t step) {
  return std::min(decay, (1.0 + double(step)) / (10.0 + double(step)));
}

void EmaWeights::update(int64_t step) {
  const double d = decay_at(decay_, step);
  const double keep_new = 1.0 - d;
  for (size_t i : trainable_) {
    const float* w = params_[i].second.data();
    float* e = averaged_[i].second.data();
    const int64_t n = params_[i].second.numel();
    for (int64_t k = 0; k < n; ++k) e[k] = float(d * double(e[k]) + keep_new * double(w[k]));
  }
}

void EmaWeights::swap_with_parameters() {
  for (size_t i : trainable_) {
    float* w = params_[i].second.data();
    std::swap_ranges(w, w + params_[i].second.numel(), averaged_[i].second.data());
  }
}

}  // namespace tapelm
