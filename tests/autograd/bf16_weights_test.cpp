// bf16 copies (autograd/bf16_weights.h): linear's products give the same bits with the copies
// as with per-product rounding, forward and backward, at 1 and 2 threads and whichever way a
// product is split; a weight is rounded once for its forward and backward products and again
// after any write to it; linear's forward leaves all of its input rounded, and a write to the
// input before the backward makes that copy stale; decoding's few-row products and fp32 make
// no copy.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <tapelm/autograd/bf16_matmul.h>
#include <tapelm/autograd/bf16_weights.h>
#include <tapelm/autograd/elementwise.h>
#include <tapelm/autograd/gemm_backend.h>
#include <tapelm/autograd/kernels/gemm.h>
#include <tapelm/autograd/matmul.h>
#include <tapelm/autograd/reduce.h>
#include <tapelm/autograd/rng.h>
#include <tapelm/autograd/tape.h>

#include "bf16_products_fixture.h"

namespace tapelm {
namespace {

Tensor random_tensor(Shape shape, uint64_t seed) {
  Tensor t(std::move(shape));
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform() * 2.0f - 1.0f;
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

using Bf16Weights = testing::Bf16ProductsTest;

// y = linear(x, w), and the gradients of Σ y·r for x and w.
struct LinearResult {
  Tensor y, dx, dw;
};

LinearResult run_linear(const Var& w, const Tensor& x_value) {
  Var x(x_value.clone(), true);
  w.zero_grad();
  Var y = linear(x, w, Var());
  Var loss = sum_all(mul(y, Var(random_tensor(y.shape(), 9))));
  backward(loss);
  return {y.value(), x.grad(), w.grad().clone()};
}

TEST_F(Bf16Weights, LinearGivesTheBitsOfPerProductRoundingWhicheverWayItsProductsAreSplit) {
  // rows x in x out: every product on one thread; split by rows; and out, in > rows, so the
  // forward and input-gradient products split by columns and read the copy with its own
  // row stride.
  for (const Shape& dims : {Shape{16, 40, 24}, Shape{256, 96, 64}, Shape{64, 512, 256}}) {
    for (const int threads : {1, 2}) {
      omp_set_num_threads(threads);
      // Other values at each thread count, so that copies reusing the last run's pooled
      // buffers cannot hold the right bits already.
      const Var w(random_tensor({dims[2], dims[1]}, 1 + 10 * threads), true);
      const Tensor x = random_tensor({dims[0], dims[1]}, 2 + 10 * threads);
      set_bf16_weight_copies(false);
      const LinearResult rounded_per_product = run_linear(w, x);
      set_bf16_weight_copies(true);
      const uint64_t before = bf16_weight_roundings();
      const LinearResult with_copy = run_linear(w, x);
      EXPECT_EQ(bf16_weight_roundings() - before, 1u) << "one copy for the forward and backward products";
      const std::string where = shape_str(dims) + " on " + std::to_string(threads) + " threads";
      EXPECT_TRUE(same_bits(with_copy.y, rounded_per_product.y)) << where;
      EXPECT_TRUE(same_bits(with_copy.dx, rounded_per_product.dx)) << where;
      EXPECT_TRUE(same_bits(with_copy.dw, rounded_per_product.dw)) << where;
    }
  }
}

TEST_F(Bf16Weights, AWeightWrittenBetweenProductsIsRoundedAgain) {
  omp_set_num_threads(2);
  Var w(random_tensor({64, 96}, 1), true);
  const Tensor x = random_tensor({256, 96}, 2);
  const LinearResult first = run_linear(w, x);
  // A write as the optimizer, a checkpoint load or EMA's swap makes one: through data().
  float* p = w.data();
  for (int64_t i = 0; i < w.numel(); ++i) p[i] = p[i] * 0.5f + 0.25f;
  const uint64_t before = bf16_weight_roundings();
  const LinearResult second = run_linear(w, x);
  EXPECT_EQ(bf16_weight_roundings() - before, 1u);
  // The same values in a storage that never had a copy.
  const LinearResult fresh = run_linear(Var(w.value().clone(), true), x);
  EXPECT_FALSE(same_bits(second.y, first.y)) << "the write changed the product";
  EXPECT_TRUE(same_bits(second.y, fresh.y)) << "a stale copy of the weight was used";
  EXPECT_TRUE(same_bits(second.dx, fresh.dx)) << "a stale copy of the weight was used";
}

// Leaves NaN-filled buffers in the pool for the next copies of `elements` bf16 values to reuse,
// so that a part of a copy nobody wrote shows.
void poison_pool_for_copies(int64_t elements) {
  std::vector<Tensor> poisoned;
  for (int copy = 0; copy < 4; ++copy) poisoned.push_back(Tensor::full({(elements + 1) / 2}, std::nanf("")));
}

TEST_F(Bf16Weights, LinearLeavesItsWholeInputRoundedForTheWeightGradient) {
  // One block on one thread; split by rows, each thread keeps its rows; split by columns
  // (out > rows), one thread keeps all of x while the other rounds privately.
  for (const Shape& dims : {Shape{16, 40, 24}, Shape{256, 96, 64}, Shape{64, 512, 256}}) {
    for (const int threads : {1, 2}) {
      omp_set_num_threads(threads);
      const Var w(random_tensor({dims[2], dims[1]}, 1), true);
      const Var x(random_tensor({dims[0], dims[1]}, 2), true);
      poison_pool_for_copies(x.numel());
      linear(x, w, Var());
      const uint16_t* copy = current_bf16_copy(x.value());
      ASSERT_NE(copy, nullptr) << shape_str(dims);
      int64_t wrong = 0;
      for (int64_t i = 0; i < x.numel(); ++i) wrong += copy[i] != kernels::detail::to_bf16(x.value().data()[i]);
      EXPECT_EQ(wrong, 0) << shape_str(dims) << " on " << threads << " threads";
      Tape::current().clear();
    }
  }
}

TEST_F(Bf16Weights, OnlyAWeightGradientToComeKeepsTheInputsCopy) {
  const Var x(random_tensor({64, 96}, 2), true);
  {
    const NoGradGuard no_tape;  // evaluation: no backward will read it
    linear(x, Var(random_tensor({32, 96}, 1), true), Var());
  }
  EXPECT_EQ(current_bf16_copy(x.value()), nullptr);
  linear(x, Var(random_tensor({32, 96}, 1), false), Var());  // a frozen weight
  EXPECT_EQ(current_bf16_copy(x.value()), nullptr);
  linear(x, Var(Tensor({0, 96}), true), Var());  // an empty product writes nothing
  EXPECT_EQ(current_bf16_copy(x.value()), nullptr);
  EXPECT_EQ(bf16_activation(x.value(), 64, /*keep=*/false).data, nullptr) << "a copy nobody will read";
  linear(x, Var(random_tensor({32, 96}, 1), true), Var());
  EXPECT_NE(current_bf16_copy(x.value()), nullptr);
  Tape::current().clear();
}

TEST_F(Bf16Weights, AnInputWrittenAfterTheForwardIsRoundedAgainForTheWeightGradient) {
  omp_set_num_threads(2);
  const Tensor x0 = random_tensor({256, 96}, 2);
  auto weight_gradient = [&](bool copies) {
    set_bf16_weight_copies(copies);
    Var w(random_tensor({64, 96}, 1), true), x(x0.clone(), true);
    Var y = linear(x, w, Var());
    float* p = x.data();  // a write between the forward and the backward
    for (int64_t i = 0; i < x.numel(); ++i) p[i] = p[i] * 0.5f + 0.25f;
    EXPECT_EQ(current_bf16_copy(x.value()), nullptr) << "the copy of x is stale after the write";
    Var loss = sum_all(mul(y, Var(random_tensor(y.shape(), 9))));
    backward(loss);
    return w.grad().clone();
  };
  const Tensor rounded_per_product = weight_gradient(false);
  EXPECT_TRUE(same_bits(weight_gradient(true), rounded_per_product)) << "a stale copy of x was read";
}

TEST_F(Bf16Weights, ReadingAWeightKeepsItsCopy) {
  const Var w(random_tensor({64, 96}, 1), true);
  const Tensor x = random_tensor({32, 96}, 2);
  run_linear(w, x);
  const uint64_t before = bf16_weight_roundings();
  const Var& read_only = w;
  EXPECT_NE(read_only.data(), nullptr);
  EXPECT_EQ(read_only.value().clone().numel(), w.numel());
  run_linear(w, x);
  EXPECT_EQ(bf16_weight_roundings(), before) << "a const read must not count as a change";
}

TEST_F(Bf16Weights, DecodingsFewRowsAndFp32ProductsMakeNoCopy) {
  const Tensor w = random_tensor({64, 96}, 1);
  EXPECT_EQ(bf16_weight(w, kernels::kGemvMaxRows), nullptr);
  EXPECT_NE(bf16_weight(w, kernels::kGemvMaxRows + 1), nullptr);
  set_bf16_weight_copies(false);
  EXPECT_EQ(bf16_weight(w, 64), nullptr);
  set_bf16_weight_copies(true);
  set_gemm_precision(GemmPrecision::Fp32);
  EXPECT_EQ(bf16_weight(w, 64), nullptr);
}

TEST_F(Bf16Weights, TheCopyHoldsTheWeightRoundedToNearestEven) {
  // 1 + 2^-8 lies halfway between two bfloat16 values and rounds to the even one, 1; 1 + 3·2^-8
  // rounds up to 1 + 2^-6.
  const Tensor w = Tensor::from_vector({2, 3}, {1.0f + 1.0f / 256, 1.0f + 3.0f / 256, -2.5f, 0.0f, 1e-3f, 7.0f});
  const uint16_t* copy = bf16_weight(w, 64);
  ASSERT_NE(copy, nullptr);
  using kernels::detail::from_bf16;
  const float thousandth = from_bf16(kernels::detail::to_bf16(1e-3f));
  const std::vector<float> expect = {1.0f, 1.0f + 1.0f / 64, -2.5f, 0.0f, thousandth, 7.0f};
  for (std::size_t i = 0; i < expect.size(); ++i) EXPECT_EQ(from_bf16(copy[i]), expect[i]) << i;
}

}  // namespace
}  // namespace tapelm
