// Linear: y = x·Wᵀ + b with weight [out, in] and an optional bias [out].
#pragma once

#include <tapelm/autograd/rng.h>
#include <tapelm/nn/init.h>
#include <tapelm/nn/module.h>

namespace tapelm {

class Linear : public Module {
 public:
  // Weight ~ N(0, init_std²), bias zeros. Parameters: `weight`, and `bias` when `bias`.
  Linear(int64_t in_features, int64_t out_features, bool bias, Rng& rng, float init_std = kInitStd);

  // x: [..., in] → [..., out].
  Var forward(const Var& x) const;

  const Var& weight() const { return weight_; }
  const Var& bias() const { return bias_; }  // undefined when the layer has no bias
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

 private:
  int64_t in_;
  int64_t out_;
  Var weight_;
  Var bias_;
};

}  // namespace tapelm
