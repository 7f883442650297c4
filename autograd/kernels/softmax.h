// Numerically stable softmax and log-softmax kernels, templated on the scalar so tests
// (and fused ops that need a softmax row inside their own parallel loops) can reuse them.
// Rows are contiguous runs of n values; the row max is subtracted before exponentiating
// (with the vectorising fast_exp), and sums are accumulated in double in a fixed order.
// Backward kernels accumulate (+=) into dinp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <tapelm/autograd/kernels/fast_exp.h>
#include <tapelm/autograd/kernels/row_reduce.h>

namespace tapelm::kernels {

constexpr int64_t kSoftmaxGrain = 16384;  // below this many elements one thread is faster

// log Σ exp(x) over one row; -inf when every entry is -inf (a fully masked row).
template <class T>
T log_sum_exp_row(const T* x, int64_t n) {
  const T m = row_max(x, n);
  if (m == -std::numeric_limits<T>::infinity()) return m;
  constexpr int64_t kBlock = 256;  // exps go through a small buffer so the loop vectorises
  T block[kBlock];
  double s = 0.0;
  for (int64_t begin = 0; begin < n; begin += kBlock) {
    const int64_t len = std::min(kBlock, n - begin);
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) block[i] = fast_exp(x[begin + i] - m);
    s += row_sum(block, len);
  }
  return m + static_cast<T>(std::log(s));
}

// out = softmax(x) over one row (out may alias x). Returns log Σ exp(x), which
// cross-entropy needs. A row that is entirely -inf (fully masked) becomes all zeros.
template <class T>
T softmax_row(T* out, const T* x, int64_t n) {
  const T m = row_max(x, n);
  if (m == -std::numeric_limits<T>::infinity()) {
    std::fill(out, out + n, T(0));
    return m;
  }
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = fast_exp(x[i] - m);
  const double s = row_sum(out, n);
  const T inv = static_cast<T>(1.0 / s);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] *= inv;
  return m + static_cast<T>(std::log(s));
}

// dinp += out ⊙ (dout − Σ dout ⊙ out), given out = softmax(x) of the row.
template <class T>
void softmax_backward_row(T* dinp, const T* out, const T* dout, int64_t n) {
  const T d = static_cast<T>(row_dot(dout, out, n));
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dinp[i] += out[i] * (dout[i] - d);
}

// out = x − log Σ exp(x) over one row (out may alias x).
template <class T>
void log_softmax_row(T* out, const T* x, int64_t n) {
  const T lse = log_sum_exp_row(x, n);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] - lse;
}

// dinp += dout − exp(out) · Σ dout, given out = log_softmax(x) of the row.
template <class T>
void log_softmax_backward_row(T* dinp, const T* out, const T* dout, int64_t n) {
  const T total = static_cast<T>(row_sum(dout, n));
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dinp[i] += dout[i] - fast_exp(out[i]) * total;
}

// The same over `rows` consecutive rows, parallel over rows.
template <class T>
void softmax_forward(T* out, const T* inp, int64_t rows, int64_t n) {
#pragma omp parallel for schedule(static) if (rows > 1 && rows * n > kSoftmaxGrain)
  for (int64_t r = 0; r < rows; ++r) softmax_row(out + r * n, inp + r * n, n);
}

template <class T>
void softmax_backward(T* dinp, const T* out, const T* dout, int64_t rows, int64_t n) {
#pragma omp parallel for schedule(static) if (rows > 1 && rows * n > kSoftmaxGrain)
  for (int64_t r = 0; r < rows; ++r) softmax_backward_row(dinp + r * n, out + r * n, dout + r * n, n);
}

template <class T>
void log_softmax_forward(T* out, const T* inp, int64_t rows, int64_t n) {
#pragma omp parallel for schedule(static) if (rows > 1 && rows * n > kSoftmaxGrain)
  for (int64_t r = 0; r < rows; ++r) log_softmax_row(out + r * n, inp + r * n, n);
}

template <class T>
void log_softmax_backward(T* dinp, const T* out, const T* dout, int64_t rows, int64_t n) {
#pragma omp parallel for schedule(static) if (rows > 1 && rows * n > kSoftmaxGrain)
  for (int64_t r = 0; r < rows; ++r) log_softmax_backward_row(dinp + r * n, out + r * n, dout + r * n, n);
}

}  // namespace tapelm::kernels
