// Row-major GEMM over raw spans on Eigen's matrix product, and its batched form.
// Transposes are GEMM flags (an Eigen Map's .transpose()), never copies, and results are
// written or accumulated straight into the destination. Eigen splits one large product
// over OpenMP threads itself (and runs single-threaded inside a parallel region); each
// output element is computed by one thread in a fixed order, so results are
// reproducible for a given thread count.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

// GCC 12 flags _mm512_undefined_ps inside Eigen's AVX-512 packing as (maybe-)uninitialized
// (a false positive: the value is deliberately undefined).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

namespace tapelm::kernels {

template <class T>
using ConstMatrixMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
template <class T>
using MatrixMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

// c[m, n] = op(a) · op(b), or += with accumulate. op(a) is [m, k]: a is stored [m, k], or
// [k, m] when trans_a. op(b) is [k, n]: b is stored [k, n], or [n, k] when trans_b.
template <class T>
void gemm(T* c, const T* a, const T* b, int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b,
          bool accumulate) {
  if (m == 0 || n == 0) return;
  MatrixMap<T> C(c, m, n);
  if (k == 0) {
    if (!accumulate) C.setZero();
    return;
  }
  auto run = [&](const auto& A, const auto& B) {
    if (accumulate) {
      C.noalias() += A * B;
    } else {
      C.noalias() = A * B;
    }
  };
  const ConstMatrixMap<T> A(a, trans_a ? k : m, trans_a ? m : k);
  const ConstMatrixMap<T> B(b, trans_b ? n : k, trans_b ? k : n);
  if (!trans_a && !trans_b) run(A, B);
  else if (!trans_a) run(A, B.transpose());
  else if (!trans_b) run(A.transpose(), B);
  else run(A.transpose(), B.transpose());
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
  // Independent products: one per thread with a single-threaded GEMM inside when there
  // are at least as many as threads (small attention-sized products gain most), else one
  // at a time with Eigen's own threading.
  const bool per_thread = count >= omp_get_max_threads() && m * n * k * count > 32768;
#pragma omp parallel for schedule(static) if (per_thread)
  for (int64_t i = 0; i < count; ++i) {
    gemm(c + i * batch.stride_c, a + i * batch.stride_a, b + i * batch.stride_b, m, n, k, trans_a, trans_b,
         accumulate);
  }
}

}  // namespace tapelm::kernels
