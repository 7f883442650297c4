// Scaled dot-product attention kernel pair over [B, H, T, D], templated on the scalar.
// Each (batch, head) is owned by one thread (static schedule) and its queries are taken in
// blocks of kQueryBlock rows: S = Q_blk·Kᵀ over only the keys the block can see (a causal
// block skips the future), a masked, scaled, vectorised row softmax, then O_blk = P·V,
// on the shared GEMM kernel (single-threaded inside the head loop). Forward stores only the
// per-row log-sum-exp; backward recomputes P from it, so the saved state is O(T) per head
// rather than O(T²), and the work stays O(T²·D):
//   dV += Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(dO ⊙ O)),  dQ += scale·dS·K,  dK += scale·dSᵀ·Q.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <tapelm/autograd/kernels/fast_exp.h>
#include <tapelm/autograd/kernels/gemm.h>

namespace tapelm::kernels {

struct AttentionDims {
  int64_t B = 0, H = 0, Tq = 0, Tk = 0, D = 0;
  // Query i sees key j only if j <= i + (Tk − Tq).
  bool causal = false;
  // [B * Tk], 0 = padding (never attended to); null for none.
  const uint8_t* key_padding = nullptr;
  // Positions between one head's keys (and values) and the next: k and v are
  // [B, H, kv_capacity, D] of which the first Tk positions are the keys, so a KV cache
  // with room to grow is read in place. 0 means Tk (contiguous). dk and dv get the same
  // layout, the positions past Tk untouched.
  int64_t kv_capacity = 0;

  int64_t kv_head_stride() const { return (kv_capacity > 0 ? kv_capacity : Tk) * D; }
};

namespace attention_detail {

// Rows per block: large enough for efficient GEMMs, small enough that the [rows, Tk]
// scratch stays in cache and causal blocks skip most of the masked future.
constexpr int64_t kQueryBlock = 64;
// Below this much work per head, threads cost more than they save.
constexpr int64_t kParallelMinWork = 32768;

// Keys [0, key_limit) are visible to query i under the causal mask (all Tk without it).
inline int64_t key_limit(const AttentionDims& d, int64_t i) {
  if (!d.causal) return d.Tk;
  return std::clamp<int64_t>(i + d.Tk - d.Tq + 1, 0, d.Tk);
}

inline bool key_visible(const uint8_t* pad, int64_t j, int64_t limit) {
  return j < limit && (pad == nullptr || pad[j] != 0);
}

// In place, raw scores s[0, keys) → probabilities of the scaled scores over the visible
// keys (0 elsewhere). Returns the row's log-sum-exp, -inf when no key is visible (the row
// is then all zeros). Masked keys become -inf first so every loop below vectorises.
template <class T>
T masked_softmax_row(T* s, int64_t keys, int64_t limit, const uint8_t* pad, T scale) {
  constexpr T inf = std::numeric_limits<T>::infinity();
  T m = -inf;
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < keys; ++j) {
    s[j] = key_visible(pad, j, limit) ? s[j] * scale : -inf;
    m = s[j] > m ? s[j] : m;  // not std::max: GCC vectorises only this form
  }
  if (m == -inf) {
    std::fill(s, s + keys, T(0));
    return -inf;
  }
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < keys; ++j) {
    s[j] = fast_exp(s[j] - m);
    sum += s[j];
  }
  const T inv = T(1) / sum;
#pragma omp simd
  for (int64_t j = 0; j < keys; ++j) s[j] *= inv;
  return m + std::log(sum);
}

// In place, raw scores s[0, keys) → the probabilities masked_softmax_row produced, from
// the saved log-sum-exp.
template <class T>
void probabilities_row(T* s, int64_t keys, int64_t limit, const uint8_t* pad, T scale, T lse) {
  if (lse == -std::numeric_limits<T>::infinity()) {
    std::fill(s, s + keys, T(0));
    return;
  }
#pragma omp simd
  for (int64_t j = 0; j < keys; ++j) s[j] = key_visible(pad, j, limit) ? fast_exp(s[j] * scale - lse) : T(0);
}

}  // namespace attention_detail

template <class T>
void attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, const AttentionDims& d, T scale) {
  // out, q: [B, H, Tq, D]; k, v: [B, H, kv_capacity, D]; lse: [B, H, Tq] (-inf: row with no visible key)
  using namespace attention_detail;
  const int64_t heads = d.B * d.H;
#pragma omp parallel if (heads > 1 && d.Tq * d.Tk * d.D > kParallelMinWork)
  {
    std::vector<T> probs(static_cast<std::size_t>(kQueryBlock * d.Tk));  // [rows, keys]
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < heads; ++bh) {
      const uint8_t* pad = d.key_padding ? d.key_padding + (bh / d.H) * d.Tk : nullptr;
      const T* kh = k + bh * d.kv_head_stride();
      const T* vh = v + bh * d.kv_head_stride();
      for (int64_t i0 = 0; i0 < d.Tq; i0 += kQueryBlock) {
        const int64_t rows = std::min(kQueryBlock, d.Tq - i0);
        const int64_t keys = key_limit(d, i0 + rows - 1);
        const int64_t row0 = (bh * d.Tq + i0) * d.D;
        gemm(probs.data(), q + row0, kh, rows, keys, d.D, false, true, false);
        for (int64_t r = 0; r < rows; ++r) {
          lse[bh * d.Tq + i0 + r] = masked_softmax_row(probs.data() + r * keys, keys, key_limit(d, i0 + r), pad, scale);
        }
        gemm(out + row0, probs.data(), vh, rows, d.D, keys, false, false, false);  // zeros when keys == 0
      }
    }
  }
}

// Accumulates (+=) into each of dq, dk, dv that is non-null.
template <class T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v, const T* out,
                        const T* lse, const AttentionDims& d, T scale) {
  // dq, dout, q, out: [B, H, Tq, D]; dk, dv, k, v: [B, H, kv_capacity, D]; lse: [B, H, Tq]
  using namespace attention_detail;
  const int64_t heads = d.B * d.H;
#pragma omp parallel if (heads > 1 && d.Tq * d.Tk * d.D > kParallelMinWork)
  {
    std::vector<T> probs(static_cast<std::size_t>(kQueryBlock * d.Tk));    // [rows, keys]
    std::vector<T> dscores(static_cast<std::size_t>(kQueryBlock * d.Tk));  // [rows, keys]
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < heads; ++bh) {
      const uint8_t* pad = d.key_padding ? d.key_padding + (bh / d.H) * d.Tk : nullptr;
      const int64_t kv0 = bh * d.kv_head_stride();
      for (int64_t i0 = 0; i0 < d.Tq; i0 += kQueryBlock) {
        const int64_t rows = std::min(kQueryBlock, d.Tq - i0);
        const int64_t keys = key_limit(d, i0 + rows - 1);
        if (keys == 0) continue;  // every row fully masked: zero gradient
        const int64_t row0 = (bh * d.Tq + i0) * d.D;
        gemm(probs.data(), q + row0, k + kv0, rows, keys, d.D, false, true, false);
        for (int64_t r = 0; r < rows; ++r) {
          probabilities_row(probs.data() + r * keys, keys, key_limit(d, i0 + r), pad, scale, lse[bh * d.Tq + i0 + r]);
        }
        if (dv) gemm(dv + kv0, probs.data(), dout + row0, keys, d.D, rows, true, false, true);
        if (!dq && !dk) continue;
        gemm(dscores.data(), dout + row0, v + kv0, rows, keys, d.D, false, true, false);  // dP
        for (int64_t r = 0; r < rows; ++r) {
          const T* o = out + row0 + r * d.D;
          const T* g = dout + row0 + r * d.D;
          T delta = 0;
          for (int64_t e = 0; e < d.D; ++e) delta += g[e] * o[e];
          const T* p = probs.data() + r * keys;
          T* ds = dscores.data() + r * keys;
          // Folding the score scale in here saves scaling both GEMM products below.
          for (int64_t j = 0; j < keys; ++j) ds[j] = scale * p[j] * (ds[j] - delta);
        }
        if (dq) gemm(dq + row0, dscores.data(), k + kv0, rows, d.D, keys, false, false, true);
        if (dk) gemm(dk + kv0, dscores.data(), q + row0, keys, d.D, rows, true, false, true);
      }
    }
  }
}

}  // namespace tapelm::kernels
