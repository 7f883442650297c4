// A test fixture that switches products to bf16 for one test (and skips where this CPU or build
// has no bf16 products), then restores fp32, weight copies on and the thread count, so a
// test may change any of them without leaking it into the next one.
#pragma once

#include <gtest/gtest.h>
#include <omp.h>

#include <string>

#include <tapelm/autograd/bf16_weights.h>
#include <tapelm/autograd/gemm_backend.h>
#include <tapelm/autograd/bf16_matmul.h>

namespace tapelm::testing {

class Bf16ProductsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!kernels::detail::bf16_matmul_available(&why)) GTEST_SKIP() << why;
    threads_ = omp_get_max_threads();
    ASSERT_EQ(set_gemm_precision(GemmPrecision::Bf16), "");
  }
  void TearDown() override {
    set_gemm_precision(GemmPrecision::Fp32);
    set_bf16_weight_copies(true);
    omp_set_num_threads(threads_);
  }

 private:
  int threads_ = 1;
};

}  // namespace tapelm::testing
