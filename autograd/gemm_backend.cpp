// GEMM backends: the process's choice and one block of a product on each library.
#include <tapelm/autograd/gemm_backend.h>

#include <omp.h>

#include <atomic>
#include <stdexcept>

#include <tapelm/autograd/bf16_matmul.h>
#include <tapelm/autograd/kernels/gemm.h>

#if TAPELM_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif
#if TAPELM_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace tapelm {

template <>
const EnumNames<GemmBackend>& enum_names<GemmBackend>() {
  static const EnumNames<GemmBackend> names("gemm backend", {{GemmBackend::Auto, "auto"},
                                                             {GemmBackend::OneDnn, "onednn"},
                                                             {GemmBackend::OpenBlas, "openblas"},
                                                             {GemmBackend::Eigen, "eigen"}});
  return names;
}

template <>
const EnumNames<GemmPrecision>& enum_names<GemmPrecision>() {
  static const EnumNames<GemmPrecision> names("precision", {{GemmPrecision::Fp32, "fp32"}, {GemmPrecision::Bf16, "bf16"}});
  return names;
}

bool gemm_backend_built(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::OneDnn:
      return TAPELM_HAVE_ONEDNN;
    case GemmBackend::OpenBlas:
      return TAPELM_HAVE_OPENBLAS;
    case GemmBackend::Auto:
    case GemmBackend::Eigen:
      return true;
  }
  return false;
}

const char* gemm_backend_packages(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::OneDnn:
      return "libdnnl-dev and ocl-icd-opencl-dev";
    case GemmBackend::OpenBlas:
      return "libopenblas-openmp-dev";
    case GemmBackend::Auto:
    case GemmBackend::Eigen:
      break;
  }
  return "";
}

namespace {

GemmBackend resolve(GemmBackend backend) {
  if (backend != GemmBackend::Auto) return backend;
  if (gemm_backend_built(GemmBackend::OneDnn)) return GemmBackend::OneDnn;
  if (gemm_backend_built(GemmBackend::OpenBlas)) return GemmBackend::OpenBlas;
  return GemmBackend::Eigen;
}

// Read by every block of every product, written only between products: the choice as given
// and as resolved.
std::atomic<GemmBackend> g_chosen{GemmBackend::Auto};
std::atomic<GemmBackend> g_backend{resolve(GemmBackend::Auto)};
std::atomic<GemmPrecision> g_precision{GemmPrecision::Fp32};

// Outside a parallel region, oneDNN and OpenBLAS would split a product over
// omp_get_max_threads() threads themselves; gemm() hands them a product there only when it
// is one thread's work, so for its duration they are told there is one thread.
class OneThreadScope {
 public:
  OneThreadScope() : saved_(omp_in_parallel() ? 0 : omp_get_max_threads()) {
    if (saved_ > 1) omp_set_num_threads(1);
  }
  ~OneThreadScope() {
    if (saved_ > 1) omp_set_num_threads(saved_);
  }
  OneThreadScope(const OneThreadScope&) = delete;
  OneThreadScope& operator=(const OneThreadScope&) = delete;

 private:
  int saved_;
};

}  // namespace

void set_gemm_backend(GemmBackend backend) {
  if (!gemm_backend_built(backend)) {
    throw std::invalid_argument(std::string("gemm backend '") + enum_name(backend) +
                                "' is not built into this tapelm: install " + gemm_backend_packages(backend) +
                                " and configure again (cmake finds it), or choose one of auto, eigen");
  }
  g_chosen.store(backend, std::memory_order_relaxed);
  g_backend.store(resolve(backend), std::memory_order_relaxed);
}

GemmBackend gemm_backend() { return g_backend.load(std::memory_order_relaxed); }

std::string set_gemm_precision(GemmPrecision precision) {
  std::string why;
  if (precision == GemmPrecision::Bf16 && !kernels::detail::bf16_matmul_available(&why)) {
    g_precision.store(GemmPrecision::Fp32, std::memory_order_relaxed);
    return "bf16 products are not available, so they run in fp32: " + why;
  }
  g_precision.store(precision, std::memory_order_relaxed);
  return "";
}

GemmPrecision gemm_precision() { return g_precision.load(std::memory_order_relaxed); }

bool bf16_products_available() { return kernels::detail::bf16_matmul_available(nullptr); }

namespace kernels::detail {

void sgemm_block(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t m,
                 int64_t n, int64_t k, bool trans_a, bool trans_b, bool accumulate, const Bf16Operands& bf16) {
  // Few-row products (decoding) stay fp32: rounding the operands costs more than bf16 saves
  // there (one row by a 384 x 8192 weight: 11 GFLOP/s in bf16, 39 in fp32 on Eigen, 1
  // thread, AMD EPYC).
  if (k > 0 && m > kGemvMaxRows && gemm_precision() == GemmPrecision::Bf16) {
    const OneThreadScope one_thread;
    bf16_gemm_block(c, ldc, a, lda, b, ldb, m, n, k, trans_a, trans_b, accumulate, bf16);
    return;
  }
  const float beta = accumulate ? 1.0f : 0.0f;
  // Auto leaves the few-row products of decoding to Eigen's matrix-vector path (gemm.h's
  // kGemvMaxRows): one row by a 384 x 8192 weight ran at 39 GFLOP/s there against oneDNN's 34
  // on 1 thread (AMD EPYC; docs/performance.md, run 9). On 2 threads oneDNN was ahead, 59
  // against 44: a rule by thread count is for the next measurement.
  const bool few_rows = m <= kGemvMaxRows && g_chosen.load(std::memory_order_relaxed) == GemmBackend::Auto;
  switch (few_rows ? GemmBackend::Eigen : gemm_backend()) {
#if TAPELM_HAVE_ONEDNN
    case GemmBackend::OneDnn:
      // Row-major, as every matrix here. Called inside tapelm's parallel region (or with one
      // thread), oneDNN computes the block on the calling thread.
      if (k > 0) {
        const OneThreadScope one_thread;
        dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
        return;
      }
      break;
#endif
#if TAPELM_HAVE_OPENBLAS
    case GemmBackend::OpenBlas:
      if (k > 0) {
        const OneThreadScope one_thread;
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a,
                    static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
        return;
      }
      break;
#endif
    default:
      break;
  }
  // Eigen, and the empty products (k = 0) every backend leaves to it: c = 0 or unchanged.
  eigen_gemm_block(c, ldc, a, lda, b, ldb, m, n, k, trans_a, trans_b, accumulate);
}

}  // namespace kernels::detail

}  // namespace tapelm
