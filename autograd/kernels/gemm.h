// Row-major GEMM over raw spans, and its batched form. Transposes are GEMM flags, never
// copies, and results are written or accumulated straight into the destination. A large
// product's output is cut into one contiguous block of rows (or columns) per OpenMP thread,
// each computed on one thread by the backend in use (autograd/gemm_backend.h; Eigen for
// other element types than float). The libraries' own threading stays unused: Eigen's
// synchronises its threads by spin-waiting, which OMP_WAIT_POLICY cannot reach, and made
// 2-thread training several times slower than 1 thread. Every output element is computed by
// one thread in a fixed order, so results are reproducible for a given thread count and
// backend.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

// GCC 12 flags _mm512_undefined_ps inside Eigen's AVX-512 packing as (maybe-)uninitialized
// (a false positive: the value is deliberately undefined).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

#include <tapelm/autograd/gemm_backend.h>

namespace tapelm::kernels {

template <class T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstStridedMap = Eigen::Map<const RowMajorMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using StridedMap = Eigen::Map<RowMajorMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

// Below this many multiply-adds (m·n·k) a product runs on one thread: splitting a
// 64×64×64 product already costs more in fork/join than it saves.
inline constexpr int64_t kGemmParallelWork = int64_t(1) << 18;

// Up to this many rows of c, a product runs as one matrix-vector product per row. Eigen's
// GEMM packs all of op(b) first (a transposing copy when b is a [n, k] weight), which for
// the few rows of a decoding step (one word's beam hypotheses) costs more than the
// multiply-adds themselves.
inline constexpr int64_t kGemvMaxRows = 4;

namespace detail {

// Single-threaded c = op(a)·op(b) (or +=) on Eigen, where each operand has its own row
// stride (ld*), so a block of a larger matrix is addressed in place.
template <class T>
void eigen_gemm_block(T* c, int64_t ldc, const T* a, int64_t lda, const T* b, int64_t ldb, int64_t m, int64_t n,
                int64_t k, bool trans_a, bool trans_b, bool accumulate) {
  StridedMap<T> C(c, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (!accumulate) C.setZero();
    return;
  }
  auto run = [&](const auto& A, const auto& B) {
    if (m <= kGemvMaxRows) {
      for (int64_t i = 0; i < m; ++i) {
        if (accumulate) {
          C.row(i).noalias() += A.row(i) * B;
        } else {
          C.row(i).noalias() = A.row(i) * B;
        }
      }
      return;
    }
    if (accumulate) {
      C.noalias() += A * B;
    } else {
      C.noalias() = A * B;
    }
  };
  const ConstStridedMap<T> A(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  const ConstStridedMap<T> B(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  if (!trans_a && !trans_b) run(A, B);
  else if (!trans_a) run(A, B.transpose());
  else if (!trans_b) run(A.transpose(), B);
  else run(A.transpose(), B.transpose());
}

// eigen_gemm_block's contract on the backend in use for float (bf16: see gemm).
template <class T>
void gemm_block(T* c, int64_t ldc, const T* a, int64_t lda, const T* b, int64_t ldb, int64_t m, int64_t n,
                int64_t k, bool trans_a, bool trans_b, bool accumulate, const Bf16Operands& bf16) {
  if constexpr (std::is_same_v<T, float>) {
    sgemm_block(c, ldc, a, lda, b, ldb, m, n, k, trans_a, trans_b, accumulate, bf16);
  } else {
    eigen_gemm_block(c, ldc, a, lda, b, ldb, m, n, k, trans_a, trans_b, accumulate);
  }
}

inline void disable_eigen_threading() {
  static const bool done = [] {
    Eigen::setNbThreads(1);
    return true;
  }();
  (void)done;
}

// Start of part p of `parts` over [0, size), rounded to a multiple of 16 so that block
// edges fall on whole register tiles of Eigen's kernel.
inline int64_t split_point(int64_t size, int64_t p, int64_t parts) {
  if (p == parts) return size;
  return std::min(size, (size * p / parts) / 16 * 16);
}

// Sets m rows of c (row stride ldc) to the n values of row, for a product to add onto.
template <class T>
void fill_rows(T* c, int64_t ldc, const T* row, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i) std::copy(row, row + n, c + i * ldc);
}

}  // namespace detail

// c[m, n] = op(a) · op(b), or += with accumulate. op(a) is [m, k]: a is stored [m, k], or
// [k, m] when trans_a. op(b) is [k, n]: b is stored [k, n], or [n, k] when trans_b.
// Runs on one thread inside an active parallel region. bf16 holds operands already rounded to
// bfloat16 (a weight's copy, an activation kept by an earlier product) and where to keep a's
// rounding (autograd/bf16_weights.h); the blocks that run in bf16 read and fill them instead
// of rounding their part privately. A kept a is whole once gemm returns (m, n, k > 0). bias, when not null
// (and accumulate false), is a row of n values that every row of c starts from: c = bias +
// op(a)·op(b), each block setting its own part in the product's parallel region rather than
// in one of its own before it.
template <class T>
void gemm(T* c, const T* a, const T* b, int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b,
          bool accumulate, const Bf16Operands& bf16 = {}, const T* bias = nullptr) {
  if (m == 0 || n == 0) return;
  // Checked here: a throw inside the parallel region below would end the process.
  if (bf16.keep_a && trans_a) throw std::logic_error("gemm: Bf16Operands::keep_a needs an untransposed a");
  if (bias && accumulate) throw std::logic_error("gemm: a bias replaces c, so it cannot go with accumulate");
  detail::disable_eigen_threading();
  const int64_t lda = trans_a ? m : k;
  const int64_t ldb = trans_b ? k : n;
  const bool add = accumulate || bias;
  const int64_t threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads == 1 || m * n * k < kGemmParallelWork) {
    if (bias) detail::fill_rows(c, n, bias, m, n);
    detail::gemm_block(c, n, a, lda, b, ldb, m, n, k, trans_a, trans_b, add, bf16);
    return;
  }
  // Split the longer side of c; rows of op(a) are columns of a stored transposed, and
  // columns of op(b) are rows of b stored transposed.
  const bool split_rows = m >= n;
  const int64_t size = split_rows ? m : n;
  const int64_t parts = std::min(threads, std::max<int64_t>(1, size / 16));
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(parts))
  for (int64_t p = 0; p < parts; ++p) {
    const int64_t begin = detail::split_point(size, p, parts);
    const int64_t len = detail::split_point(size, p + 1, parts) - begin;
    if (len == 0) continue;
    if (split_rows) {
      const int64_t a_offset = trans_a ? begin : begin * k;
      const Bf16Operands block{bf16.a ? bf16.a + a_offset : nullptr, bf16.keep_a ? bf16.keep_a + a_offset : nullptr,
                               bf16.b};
      if (bias) detail::fill_rows(c + begin * n, n, bias, len, n);
      detail::gemm_block(c + begin * n, n, a + a_offset, lda, b, ldb, len, n, k, trans_a, trans_b, add, block);
    } else {
      // Every block reads all of a: the first keeps its rounding, the others round privately.
      const int64_t b_offset = trans_b ? begin * k : begin;
      const Bf16Operands block{bf16.a, p == 0 ? bf16.keep_a : nullptr, bf16.b ? bf16.b + b_offset : nullptr};
      if (bias) detail::fill_rows(c + begin, n, bias + begin, m, len);
      detail::gemm_block(c + begin, n, a, lda, b + b_offset, ldb, m, len, k, trans_a, trans_b, add, block);
    }
  }
}

// `batch` products c_i = op(a_i) · op(b_i) (or +=), with a_i = a + i·stride_a and so on.
// A stride of 0 shares that operand across the batch; stride_c = 0 sums every product
// into one c, in batch order.
struct GemmBatch {
  int64_t count;
  int64_t stride_a, stride_b, stride_c;
};

template <class T>
void batched_gemm(T* c, const T* a, const T* b, const GemmBatch& batch, int64_t m, int64_t n, int64_t k,
                  bool trans_a, bool trans_b, bool accumulate) {
  const int64_t count = batch.count;
  if (count == 0) {
    // Nothing to sum: a shared c overwritten becomes zeros, as gemm does for an empty k.
    if (batch.stride_c == 0 && !accumulate) std::fill(c, c + m * n, T(0));
    return;
  }
  if (count == 1) {
    gemm(c, a, b, m, n, k, trans_a, trans_b, accumulate);
    return;
  }
  // A shared b under untransposed, contiguous a_i and c_i: the batch is just more rows.
  if (batch.stride_b == 0 && !trans_a && batch.stride_a == m * k && batch.stride_c == m * n) {
    gemm(c, a, b, count * m, n, k, false, trans_b, accumulate);
    return;
  }
  if (batch.stride_c == 0) {
    // Σ_i a_iᵀ·b_i with a_i [k, m] and b_i [k, n] stacked contiguously is one product
    // over k·count (the weight gradient of a batched product with a shared b).
    if (trans_a && !trans_b && batch.stride_a == k * m && batch.stride_b == k * n) {
      gemm(c, a, b, m, n, count * k, true, false, accumulate);
      return;
    }
    for (int64_t i = 0; i < count; ++i) {
      gemm(c, a + i * batch.stride_a, b + i * batch.stride_b, m, n, k, trans_a, trans_b, accumulate || i > 0);
    }
    return;
  }
  // Independent products: one per thread (gemm then stays single-threaded) when there are
  // at least as many as threads (small attention-sized products gain most), else one at a
  // time, each split over the threads by gemm itself.
  const bool per_thread = count >= omp_get_max_threads() && m * n * k * count > 32768;
  if (per_thread) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i) {
      gemm(c + i * batch.stride_c, a + i * batch.stride_a, b + i * batch.stride_b, m, n, k, trans_a, trans_b,
           accumulate);
    }
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    gemm(c + i * batch.stride_c, a + i * batch.stride_a, b + i * batch.stride_b, m, n, k, trans_a, trans_b,
         accumulate);
  }
}

}  // namespace tapelm::kernels
