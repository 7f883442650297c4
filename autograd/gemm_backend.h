// How tapelm's float matrix products (autograd/kernels/gemm.h) are computed, one choice per
// process: the library (train.gemm: oneDNN, OpenBLAS or Eigen) and the operands' precision
// (train.precision: fp32, or bf16 on oneDNN). tapelm cuts a product into one block per OpenMP
// thread itself and the library computes each block on one thread, so every backend gives the
// same bits for the same machine and thread count; two backends or precisions give different
// bits (a resume on another one continues, not bit-for-bit).
#pragma once

#include <cstdint>
#include <string>

#include <tapelm/data/enum_names.h>

namespace tapelm {

enum class GemmBackend {
  Auto,      // the fastest one built in: oneDNN, else OpenBLAS, else Eigen; Eigen for products
             // of up to kernels::kGemvMaxRows rows (decoding), where it is faster
  OneDnn,    // oneDNN's sgemm (Debian libdnnl-dev)
  OpenBlas,  // OpenBLAS's cblas_sgemm (Debian libopenblas-openmp-dev)
  Eigen,     // Eigen's matrix product: always built in, the portable fallback
};

template <>
const EnumNames<GemmBackend>& enum_names<GemmBackend>();

// Whether this build links the backend's library (Auto and Eigen always are).
bool gemm_backend_built(GemmBackend backend);

// The Debian packages that build oneDNN or OpenBLAS in when installed at configure time, for
// messages ("libdnnl-dev and ocl-icd-opencl-dev"); "" for Auto and Eigen.
const char* gemm_backend_packages(GemmBackend backend);

// Selects the backend for every product from now on; Auto resolves here. Throws
// std::invalid_argument naming the backend and the build option when it is not built in.
// Call it before the products (not from inside one).
void set_gemm_backend(GemmBackend backend);

// The backend in use: never Auto. Until set_gemm_backend is called, Auto's choice.
GemmBackend gemm_backend();

enum class GemmPrecision {
  Fp32,  // fp32 operands and accumulation
  // Operands rounded to bfloat16 (nearest even), products accumulated in fp32 into an fp32
  // destination, on oneDNN. Everything else (weights, gradients, optimizer state, norms,
  // softmax, losses) stays fp32, and so do products of up to kernels::kGemvMaxRows rows
  // (decoding), where rounding costs more than bf16 saves.
  Bf16,
};

template <>
const EnumNames<GemmPrecision>& enum_names<GemmPrecision>();

// Selects the precision of every product from now on. Bf16 runs on oneDNN whatever the
// backend (set_gemm_backend) says; it needs a build with oneDNN and a CPU with AVX512-BF16 or
// AMX (autograd/bf16_matmul.h). When it cannot run, products stay fp32 and the returned text
// says why; else it is empty.
std::string set_gemm_precision(GemmPrecision precision);

// The precision in use (Fp32 until set_gemm_precision selects Bf16 and it can run).
GemmPrecision gemm_precision();

// Whether Bf16 can run here: a build with oneDNN and a CPU with AVX512-BF16 or AMX.
bool bf16_products_available();

namespace kernels {

// A product's operands as bfloat16, for when it runs in bf16 (fp32 products ignore them):
// rounded already by someone else, or where this product leaves its rounding of a for later
// products (autograd/bf16_weights.h). Each pointer is in its operand's own layout and row
// stride; null means the product rounds that operand itself, privately.
struct Bf16Operands {
  const uint16_t* a = nullptr;  // a rounded
  uint16_t* keep_a = nullptr;   // a to be rounded into here (a not transposed; a.k.a. unset)
  const uint16_t* b = nullptr;  // b rounded
};

namespace detail {

// One thread's block of a product: c = op(a)·op(b) (or += with accumulate), row-major, each
// operand with its own row stride, on the backend in use; bf16 as in gemm (gemm.h), offset
// to this block.
void sgemm_block(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t m,
                 int64_t n, int64_t k, bool trans_a, bool trans_b, bool accumulate, const Bf16Operands& bf16);

}  // namespace detail

}  // namespace kernels

}  // namespace tapelm
