// Inverted dropout kernel pair. The keep decision for element i is a pure function of
// (seed, first + i), so backward recomputes the mask instead of storing it, and any
// thread count draws the same mask.
#pragma once

#include <cstdint>

#include "autograd/rng.h"

namespace tapelm::kernels {

constexpr int64_t kDropoutParallelMin = 16384;

inline bool dropout_keeps(const Rng& rng, uint64_t index, float p) { return Rng::to_unit(rng.at(index)) >= p; }

template <class T>
void dropout_forward(T* out, const T* inp, const Rng& rng, uint64_t first, float p, int64_t n) {
  // out, inp: [n]; draws rng.at(first) .. rng.at(first + n - 1)
  const T scale = T(1) / (T(1) - T(p));
#pragma omp parallel for simd schedule(static) if (n > kDropoutParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = dropout_keeps(rng, first + i, p) ? inp[i] * scale : T(0);
}

template <class T>
void dropout_backward(T* dinp, const T* dout, const Rng& rng, uint64_t first, float p, int64_t n) {
  // dinp, dout: [n]
  const T scale = T(1) / (T(1) - T(p));
#pragma omp parallel for simd schedule(static) if (n > kDropoutParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    if (dropout_keeps(rng, first + i, p)) dinp[i] += dout[i] * scale;
  }
}

}  // namespace tapelm::kernels
