// Matrix products on Eigen's GEMM (OpenMP-parallel inside Eigen).
#pragma once

#include <tapelm/autograd/variable.h>

namespace tapelm {

// a: [..., M, K] (or [..., K, M] with trans_a), b: [..., K, N] (or [..., N, K] with
// trans_b). Rank 2, 3 or 4; leading (batch) dimensions must match, or b may be rank 2
// and is then shared by every batch entry. Result: [..., M, N].
Var matmul(const Var& a, const Var& b, bool trans_a = false, bool trans_b = false);

// y = x · Wᵀ + b as one fused op. x: [..., in], weight: [out, in], bias: [out] or an
// undefined Var for none. Result: [..., out].
Var linear(const Var& x, const Var& weight, const Var& bias);

}  // namespace tapelm
