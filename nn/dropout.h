// Dropout module: active in training mode only. The Rng is shared (one stream per model),
// so a model's dropout state is two integers that a checkpoint can save and restore.
#pragma once

#include <memory>

#include "autograd/rng.h"
#include "nn/module.h"

namespace tapelm {

class Dropout : public Module {
 public:
  Dropout(float p, std::shared_ptr<Rng> rng);
  Var forward(const Var& x) const;
  float p() const { return p_; }

 private:
  float p_;
  std::shared_ptr<Rng> rng_;
};

}  // namespace tapelm
