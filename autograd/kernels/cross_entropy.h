// Cross-entropy from logits fused with log-softmax, templated on the scalar. Forward
// keeps only the per-row log-sum-exp; backward recomputes softmax from the logits row by
// row, so no [N, V] probability matrix is ever stored. Both passes are exp-bound, hence
// the vectorised exp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <tapelm/autograd/kernels/fast_exp.h>

namespace tapelm::kernels {

constexpr int64_t kCrossEntropyParallelMin = 16384;

// With label smoothing ε the target distribution is (1 − ε)·onehot(target) + ε/V, so
// losses[n] = logsumexp(logits[n]) − (1 − ε)·logits[n, targets[n]] − ε·mean(logits[n]);
// ε = 0 is plain cross-entropy. With class_weights ([V], or null for all 1) each row's loss
// is multiplied by its target's weight. Ignored rows get 0 (their lse is left 0). Targets
// must already be validated to lie in [0, V) or equal ignore_index.
template <class T>
void cross_entropy_forward(T* losses, T* lse, const T* logits, const int32_t* targets, int64_t N, int64_t V,
                           int32_t ignore_index, T smoothing = T(0), const T* class_weights = nullptr) {
  // losses, lse, targets: [N]; logits: [N, V]
#pragma omp parallel for schedule(static) if (N * V > kCrossEntropyParallelMin)
  for (int64_t n = 0; n < N; ++n) {
    if (targets[n] == ignore_index) {
      losses[n] = T(0);
      lse[n] = T(0);
      continue;
    }
    const T* row = logits + n * V;
    T m = -std::numeric_limits<T>::infinity();
    // A comparison, not std::max: GCC vectorises only this form of max reduction.
#pragma omp simd reduction(max : m)
    for (int64_t v = 0; v < V; ++v) m = row[v] > m ? row[v] : m;
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t v = 0; v < V; ++v) sum += fast_exp(row[v] - m);
    lse[n] = m + std::log(sum);
    T smoothed = 0;
    if (smoothing != T(0)) {
      T total = 0;
#pragma omp simd reduction(+ : total)
      for (int64_t v = 0; v < V; ++v) total += row[v];
      smoothed = smoothing * total / T(V);
    }
    losses[n] = lse[n] - (T(1) - smoothing) * row[targets[n]] - smoothed;
    if (class_weights != nullptr) losses[n] *= class_weights[targets[n]];
  }
}

// dlogits[n] += dloss·w·(softmax(logits[n]) − (1 − ε)·onehot(targets[n]) − ε/V) for every non-ignored
// row, where dloss is the gradient of each row's weighted loss (for a mean: upstream / the sum of the
// valid rows' weights) and w = class_weights[targets[n]] (1 when class_weights is null). With
// accumulate false dlogits is overwritten instead (ignored rows become 0), so a fresh,
// uninitialised gradient needs no zero fill: at [N, V] the pass is memory-bound.
template <class T>
void cross_entropy_backward(T* dlogits, const T* logits, const T* lse, const int32_t* targets, T dloss, int64_t N,
                            int64_t V, int32_t ignore_index, bool accumulate, T smoothing = T(0),
                            const T* class_weights = nullptr) {
  // dlogits, logits: [N, V]; lse, targets: [N]
#pragma omp parallel for schedule(static) if (N * V > kCrossEntropyParallelMin)
  for (int64_t n = 0; n < N; ++n) {
    T* drow = dlogits + n * V;
    if (targets[n] == ignore_index) {
      if (!accumulate) std::fill(drow, drow + V, T(0));
      continue;
    }
    const T* row = logits + n * V;
    const T l = lse[n];
    const T scale = class_weights != nullptr ? dloss * class_weights[targets[n]] : dloss;
    const T uniform = scale * smoothing / T(V);
    if (accumulate) {
#pragma omp simd
      for (int64_t v = 0; v < V; ++v) drow[v] += scale * fast_exp(row[v] - l) - uniform;
    } else {
#pragma omp simd
      for (int64_t v = 0; v < V; ++v) drow[v] = scale * fast_exp(row[v] - l) - uniform;
    }
    drow[targets[n]] -= scale * (T(1) - smoothing);
  }
}

}  // namespace tapelm::kernels
