// Forward/backward kernel pairs for pointwise activations, templated on the scalar so
// tests can check them in double. Backward kernels accumulate (+=) into dinp. GELU uses
// fast_tanh and SiLU fast_exp, which vectorise in float and are std::tanh / std::exp in
// double (glibc's scalar expf kept the SiLU loops from vectorising).
#pragma once

#include <cmath>
#include <cstdint>

#include <tapelm/autograd/kernels/fast_tanh.h>

namespace tapelm::kernels {

template <class T>
void relu_forward(T* out, const T* inp, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = inp[i] > T(0) ? inp[i] : T(0);
}

// `inp` may be relu's output instead: it is positive exactly where the input is.
template <class T>
void relu_backward(T* dinp, const T* inp, const T* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) dinp[i] += inp[i] > T(0) ? dout[i] : T(0);
}

template <class T>
constexpr T kGeluScale = T(0.7978845608028654);  // sqrt(2 / pi)

template <class T>
void gelu_forward(T* out, const T* inp, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const T x = inp[i];
    const T u = kGeluScale<T> * (x + T(0.044715) * x * x * x);
    out[i] = T(0.5) * x * (T(1) + fast_tanh(u));
  }
}

template <class T>
void gelu_backward(T* dinp, const T* inp, const T* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const T x = inp[i];
    const T u = kGeluScale<T> * (x + T(0.044715) * x * x * x);
    const T t = fast_tanh(u);
    const T sech2 = T(1) - t * t;
    const T du = kGeluScale<T> * (T(1) + T(3) * T(0.044715) * x * x);
    dinp[i] += dout[i] * (T(0.5) * (T(1) + t) + T(0.5) * x * sech2 * du);
  }
}

// Exact GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)); d/dx = Φ(x) + x·φ(x). std::erf does not
// vectorise, so this is slower than the tanh form; it exists for models defined with it.
template <class T>
constexpr T kSqrtHalf = T(0.7071067811865476);  // 1/√2

template <class T>
constexpr T kInvSqrt2Pi = T(0.3989422804014327);  // 1/√(2π)

template <class T>
void gelu_exact_forward(T* out, const T* inp, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = T(0.5) * inp[i] * (T(1) + std::erf(inp[i] * kSqrtHalf<T>));
}

template <class T>
void gelu_exact_backward(T* dinp, const T* inp, const T* dout, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const T x = inp[i];
    const T cdf = T(0.5) * (T(1) + std::erf(x * kSqrtHalf<T>));
    dinp[i] += dout[i] * (cdf + x * kInvSqrt2Pi<T> * std::exp(T(-0.5) * x * x));
  }
}

template <class T>
void silu_forward(T* out, const T* inp, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = inp[i] / (T(1) + fast_exp(-inp[i]));
}

template <class T>
void silu_backward(T* dinp, const T* inp, const T* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const T s = T(1) / (T(1) + fast_exp(-inp[i]));
    dinp[i] += dout[i] * s * (T(1) + inp[i] * (T(1) - s));
  }
}

}  // namespace tapelm::kernels
