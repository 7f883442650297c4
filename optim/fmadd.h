// a·b + c rounded the way PyTorch's vectorised CPU kernels round `x.add_(y, alpha=a)`:
// Vectorized::fmadd, a single fused rounding where the CPU has FMA. Update loops use it
// (and plain expressions elsewhere) so their results agree with torch.optim bit for bit
// on such CPUs; without fast FMA both sides round twice.
#pragma once

#include <cmath>

namespace tapelm {

inline float fmadd(float a, float b, float c) {
#ifdef FP_FAST_FMAF
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

}  // namespace tapelm
