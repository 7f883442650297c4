// bf16 matrix products on oneDNN: fp32 operands rounded to bfloat16 (round to nearest even),
// multiplied with fp32 accumulation into an fp32 destination — the products of
// GemmPrecision::Bf16 (autograd/gemm_backend.h). Internal to the GEMM backends.
#pragma once

#include <cstdint>
#include <string>

#include <tapelm/autograd/gemm_backend.h>

namespace tapelm::kernels::detail {

// Whether this build and CPU run bf16 products natively (oneDNN with AVX512-BF16 or AMX);
// when not, `why` says why. oneDNN can emulate them on other AVX-512 CPUs, but its emulation
// made a tiny GPT's training steps 2.1x slower than fp32 (153 against 72 ms, 1 thread, AMD
// EPYC under ONEDNN_MAX_CPU_ISA=AVX512_CORE), so bf16 is not offered there.
bool bf16_matmul_available(std::string* why);

// One thread's block, with gemm_block's contract (autograd/kernels/gemm.h). Each operand that
// bf16 does not hold rounded already is rounded here, a into bf16.keep_a when given.
void bf16_gemm_block(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t m,
                     int64_t n, int64_t k, bool trans_a, bool trans_b, bool accumulate, const Bf16Operands& bf16);

// x rounded to the nearest bfloat16 (ties to even), as the bf16 products round their operands.
inline uint16_t to_bf16(float x) {
  uint32_t bits;
  __builtin_memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu) != 0) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

inline float from_bf16(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float x;
  __builtin_memcpy(&x, &bits, sizeof x);
  return x;
}

}  // namespace tapelm::kernels::detail
