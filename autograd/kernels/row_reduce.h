// Reductions of one contiguous row in a fixed order that still vectorises: eight
// interleaved lanes (lane l takes elements l, l+8, ...) combined in lane order at the end.
// Without -ffast-math the compiler may not reorder a single running sum, so a plain loop
// would add one element per FP-add latency; the lanes give it eight independent chains
// while the result stays a function of the data alone. Sums and dots accumulate in double.
#pragma once

#include <cstdint>
#include <limits>

namespace tapelm::kernels {

constexpr int kRowLanes = 8;

// Σ term(i) for i < n, with term(i) the i-th summand as a double.
template <class Term>
double lane_sum(int64_t n, Term term) {
  double lane[kRowLanes] = {};
  int64_t i = 0;
  for (; i + kRowLanes <= n; i += kRowLanes) {
    for (int l = 0; l < kRowLanes; ++l) lane[l] += term(i + l);
  }
  for (int l = 0; i < n; ++i, ++l) lane[l] += term(i);
  double s = 0.0;
  for (int l = 0; l < kRowLanes; ++l) s += lane[l];
  return s;
}

template <class T>
double row_sum(const T* x, int64_t n) {
  return lane_sum(n, [x](int64_t i) { return static_cast<double>(x[i]); });
}

template <class T>
double row_dot(const T* x, const T* y, int64_t n) {
  return lane_sum(n, [x, y](int64_t i) { return static_cast<double>(x[i]) * static_cast<double>(y[i]); });
}

// The largest element (-inf for an empty row). Max is exact, so lanes change nothing.
template <class T>
T row_max(const T* x, int64_t n) {
  T lane[kRowLanes];
  for (T& m : lane) m = -std::numeric_limits<T>::infinity();
  int64_t i = 0;
  for (; i + kRowLanes <= n; i += kRowLanes) {
    for (int l = 0; l < kRowLanes; ++l) lane[l] = x[i + l] > lane[l] ? x[i + l] : lane[l];
  }
  for (int l = 0; i < n; ++i, ++l) lane[l] = x[i] > lane[l] ? x[i] : lane[l];
  T m = lane[0];
  for (int l = 1; l < kRowLanes; ++l) m = lane[l] > m ? lane[l] : m;
  return m;
}

}  // namespace tapelm::kernels
