// Layer norm and RMS norm kernel pairs over rows of C channels, templated on the scalar
// (after llm.c layernorm_forward/backward). Forward caches the per-row statistics so
// backward never recomputes them; backward kernels accumulate (+=) into every gradient
// pointer that is non-null and skip the null ones.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tapelm::kernels {

// Rows are independent, so below this many elements threads cost more than they save.
constexpr int64_t kNormParallelMin = 16384;

// dweight[c] += Σ_n dout[n,c]·x̂[n,c] and dbias[c] += Σ_n dout[n,c], where
// x̂ = (inp − mean[n])·rstd[n] (mean null: RMS norm, no centring). Threads own blocks of
// columns and sum the rows in order, so the result is the same for any thread count.
template <class T>
void norm_affine_backward(T* dweight, T* dbias, const T* dout, const T* inp, const T* mean, const T* rstd, int64_t N,
                          int64_t C) {
  // dweight, dbias: [C]; dout, inp: [N, C]; mean, rstd: [N]
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (N * C > kNormParallelMin)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock;
    const int64_t width = std::min(kBlock, C - c0);
    T acc_w[kBlock] = {};
    T acc_b[kBlock] = {};
    for (int64_t n = 0; n < N; ++n) {
      const T* g = dout + n * C + c0;
      const T* x = inp + n * C + c0;
      const T m = mean ? mean[n] : T(0);
      const T s = rstd[n];
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) {
        acc_w[c] += g[c] * (x[c] - m) * s;
        acc_b[c] += g[c];
      }
    }
    for (int64_t c = 0; c < width; ++c) {
      if (dweight) dweight[c0 + c] += acc_w[c];
      if (dbias) dbias[c0 + c] += acc_b[c];
    }
  }
}

// out = (inp − mean)·rstd·weight + bias per row; bias may be null.
template <class T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* inp, const T* weight, const T* bias, int64_t N, int64_t C,
                       T eps) {
  // out, inp: [N, C]; mean, rstd: [N]; weight, bias: [C]
#pragma omp parallel for schedule(static) if (N * C > kNormParallelMin)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * C;
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < C; ++c) sum += x[c];
    const T m = sum / T(C);
    T var = 0;
#pragma omp simd reduction(+ : var)
    for (int64_t c = 0; c < C; ++c) var += (x[c] - m) * (x[c] - m);
    const T s = T(1) / std::sqrt(var / T(C) + eps);
    T* o = out + n * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) o[c] = (x[c] - m) * s * weight[c] + (bias ? bias[c] : T(0));
    mean[n] = m;
    rstd[n] = s;
  }
}

template <class T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, const T* mean,
                        const T* rstd, int64_t N, int64_t C) {
  // dinp, dout, inp: [N, C]; dweight, dbias, weight: [C]; mean, rstd: [N]
  if (dinp) {
#pragma omp parallel for schedule(static) if (N * C > kNormParallelMin)
    for (int64_t n = 0; n < N; ++n) {
      const T* x = inp + n * C;
      const T* g = dout + n * C;
      const T m = mean[n];
      const T s = rstd[n];
      // dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = dout·weight.
      T sum_g = 0;
      T sum_gx = 0;
#pragma omp simd reduction(+ : sum_g, sum_gx)
      for (int64_t c = 0; c < C; ++c) {
        const T gw = g[c] * weight[c];
        sum_g += gw;
        sum_gx += gw * (x[c] - m) * s;
      }
      const T mean_g = sum_g / T(C);
      const T mean_gx = sum_gx / T(C);
      T* dx = dinp + n * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        dx[c] += s * (g[c] * weight[c] - mean_g - (x[c] - m) * s * mean_gx);
      }
    }
  }
  if (dweight || dbias) norm_affine_backward(dweight, dbias, dout, inp, mean, rstd, N, C);
}

// out = inp·rstd·weight with rstd = 1/sqrt(mean(inp²) + eps) per row.
template <class T>
void rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int64_t N, int64_t C, T eps) {
  // out, inp: [N, C]; rstd: [N]; weight: [C]
#pragma omp parallel for schedule(static) if (N * C > kNormParallelMin)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * C;
    T sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int64_t c = 0; c < C; ++c) sq += x[c] * x[c];
    const T s = T(1) / std::sqrt(sq / T(C) + eps);
    T* o = out + n * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) o[c] = x[c] * s * weight[c];
    rstd[n] = s;
  }
}

template <class T>
void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const T* rstd, int64_t N,
                      int64_t C) {
  // dinp, dout, inp: [N, C]; dweight, weight: [C]; rstd: [N]
  if (dinp) {
#pragma omp parallel for schedule(static) if (N * C > kNormParallelMin)
    for (int64_t n = 0; n < N; ++n) {
      const T* x = inp + n * C;
      const T* g = dout + n * C;
      const T s = rstd[n];
      // dx = rstd·(ĝ − x̂·mean(ĝ·x̂)) with ĝ = dout·weight, x̂ = x·rstd.
      T sum_gx = 0;
#pragma omp simd reduction(+ : sum_gx)
      for (int64_t c = 0; c < C; ++c) sum_gx += g[c] * weight[c] * x[c] * s;
      const T mean_gx = sum_gx / T(C);
      T* dx = dinp + n * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) dx[c] += s * (g[c] * weight[c] - x[c] * s * mean_gx);
    }
  }
  if (dweight) norm_affine_backward<T>(dweight, nullptr, dout, inp, nullptr, rstd, N, C);
}

}  // namespace tapelm::kernels
