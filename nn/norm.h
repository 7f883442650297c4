// Normalisation layers over the last axis: LayerNorm (weight and bias) and RMSNorm
// (weight only), behind a common base so a block can hold either, chosen by NormKind.
#pragma once

#include <memory>

#include <tapelm/data/enum_names.h>
#include <tapelm/nn/module.h>

namespace tapelm {

enum class NormKind { LayerNorm, RMSNorm };

// layernorm | rmsnorm.
template <>
const EnumNames<NormKind>& enum_names<NormKind>();

class Norm : public Module {
 public:
  // x: [..., dim] → same shape.
  virtual Var forward(const Var& x) const = 0;
};

class LayerNorm : public Norm {
 public:
  // Parameters `weight` (ones) and `bias` (zeros), both [dim].
  explicit LayerNorm(int64_t dim, float eps = 1e-5f);
  Var forward(const Var& x) const override;

 private:
  float eps_;
  Var weight_;
  Var bias_;
};

class RMSNorm : public Norm {
 public:
  // Parameter `weight` (ones) [dim].
  explicit RMSNorm(int64_t dim, float eps = 1e-6f);
  Var forward(const Var& x) const override;

 private:
  float eps_;
  Var weight_;
};

std::shared_ptr<Norm> make_norm(NormKind kind, int64_t dim, float eps);

}  // namespace tapelm
