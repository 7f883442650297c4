// Forward/backward kernel pairs for unary elementwise math, templated on the scalar so
// tests can check them in double. Every backward has the same signature
// (dinp, inp, out, dout, n), using whichever of inp/out its derivative is cheaper from,
// and accumulates (+=) into dinp.
#pragma once

#include <cmath>
#include <cstdint>

namespace tapelm::kernels {

// Transcendental kernels cost ~10x a load, so they are worth threads at smaller sizes.
constexpr int64_t kCheapGrain = 65536;
constexpr int64_t kCostlyGrain = 8192;

template <class T>
void scale_forward(T* out, const T* inp, int64_t n, T s) {
#pragma omp parallel for simd schedule(static) if (n > kCheapGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = s * inp[i];
}

template <class T>
void scale_backward(T* dinp, const T*, const T*, const T* dout, int64_t n, T s) {
#pragma omp parallel for simd schedule(static) if (n > kCheapGrain)
  for (int64_t i = 0; i < n; ++i) dinp[i] += s * dout[i];
}

template <class T>
void shift_forward(T* out, const T* inp, int64_t n, T s) {
#pragma omp parallel for simd schedule(static) if (n > kCheapGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = inp[i] + s;
}

template <class T>
void shift_backward(T* dinp, const T*, const T*, const T* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kCheapGrain)
  for (int64_t i = 0; i < n; ++i) dinp[i] += dout[i];
}

template <class T>
void exp_forward(T* out, const T* inp, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kCostlyGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = std::exp(inp[i]);
}

template <class T>
void exp_backward(T* dinp, const T*, const T* out, const T* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kCheapGrain)
  for (int64_t i = 0; i < n; ++i) dinp[i] += dout[i] * out[i];
}

template <class T>
void log_forward(T* out, const T* inp, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kCostlyGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = std::log(inp[i]);
}

template <class T>
void log_backward(T* dinp, const T* inp, const T*, const T* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kCheapGrain)
  for (int64_t i = 0; i < n; ++i) dinp[i] += dout[i] / inp[i];
}

template <class T>
void tanh_forward(T* out, const T* inp, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kCostlyGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(inp[i]);
}

template <class T>
void tanh_backward(T* dinp, const T*, const T* out, const T* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kCheapGrain)
  for (int64_t i = 0; i < n; ++i) dinp[i] += dout[i] * (T(1) - out[i] * out[i]);
}

template <class T>
void sqrt_forward(T* out, const T* inp, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kCheapGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = std::sqrt(inp[i]);
}

template <class T>
void sqrt_backward(T* dinp, const T*, const T* out, const T* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kCheapGrain)
  for (int64_t i = 0; i < n; ++i) dinp[i] += dout[i] * T(0.5) / out[i];
}

template <class T>
void pow_forward(T* out, const T* inp, int64_t n, T p) {
#pragma omp parallel for schedule(static) if (n > kCostlyGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = std::pow(inp[i], p);
}

template <class T>
void pow_backward(T* dinp, const T* inp, const T*, const T* dout, int64_t n, T p) {
#pragma omp parallel for schedule(static) if (n > kCostlyGrain)
  for (int64_t i = 0; i < n; ++i) dinp[i] += dout[i] * p * std::pow(inp[i], p - T(1));
}

}  // namespace tapelm::kernels
