// Dropout module on the dropout op.
#include "nn/dropout.h"

#include <stdexcept>

#include "autograd/dropout.h"

namespace tapelm {

Dropout::Dropout(float p, std::shared_ptr<Rng> rng) : p_(p), rng_(std::move(rng)) {
  if (!(p >= 0.0f && p < 1.0f)) {
    throw std::invalid_argument("Dropout: p must be in [0, 1), got " + std::to_string(p));
  }
  if (!rng_) throw std::invalid_argument("Dropout: no Rng given");
}

Var Dropout::forward(const Var& x) const {
  if (p_ == 0.0f || !is_training()) return x;
  return dropout(x, p_, *rng_, true);
}

}  // namespace tapelm
