// Normalisation over the last axis, fused: forward caches mean/rstd for backward.
#pragma once

#include <tapelm/autograd/variable.h>

namespace tapelm {

// x: [..., C], weight and bias: [C] (bias may be an undefined Var for none).
Var layernorm(const Var& x, const Var& weight, const Var& bias, float eps = 1e-5f);
// x: [..., C], weight: [C]. x / sqrt(mean(x²) + eps) · weight.
Var rmsnorm(const Var& x, const Var& weight, float eps = 1e-6f);

}  // namespace tapelm
