// Embedding kernel pair: gather rows forward; scatter-add backward, race-free and
// deterministic because each thread owns a block of embedding columns and walks the ids
// in order, so repeated ids are summed in the same order for any thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace tapelm::kernels {

constexpr int64_t kEmbeddingParallelMin = 16384;

template <class T>
void embedding_forward(T* out, const T* table, const int32_t* ids, int64_t N, int64_t D) {
  // out: [N, D]; table: [V, D]; ids: [N], already validated to lie in [0, V)
#pragma omp parallel for schedule(static) if (N * D > kEmbeddingParallelMin)
  for (int64_t n = 0; n < N; ++n) {
    std::memcpy(out + n * D, table + static_cast<int64_t>(ids[n]) * D, sizeof(T) * static_cast<std::size_t>(D));
  }
}

template <class T>
void embedding_backward(T* dtable, const T* dout, const int32_t* ids, int64_t N, int64_t D) {
  // dtable: [V, D]; dout: [N, D]; ids: [N]
  constexpr int64_t kBlock = 64;  // columns per block: whole cache lines, no false sharing
  const int64_t blocks = (D + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (N * D > kEmbeddingParallelMin)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock;
    const int64_t width = std::min(kBlock, D - c0);
    for (int64_t n = 0; n < N; ++n) {
      T* dst = dtable + static_cast<int64_t>(ids[n]) * D + c0;
      const T* src = dout + n * D + c0;
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) dst[c] += src[c];
    }
  }
}

}  // namespace tapelm::kernels
