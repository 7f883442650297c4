// matmul and linear: forward against a naive reference (double kernel and float op),
// gradients by finite differences for every transpose flag and batch layout, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <tapelm/autograd/kernels/gemm.h>
#include "gradcheck.h"

namespace tapelm {
namespace {

using ::testing::HasSubstr;
using testing::expect_gradients_match;
using testing::random_doubles;
using testing::random_tensor;

// Element (i, j) of op(x) where x is stored row-major [rows, cols] of the untransposed
// [r, c] matrix, or [c, r] when transposed.
template <class T>
T at(const T* x, int64_t i, int64_t j, int64_t cols_of_op, int64_t rows_of_op, bool trans) {
  return trans ? x[j * rows_of_op + i] : x[i * cols_of_op + j];
}

// Naive product for batch entries with optional sharing of b, in double.
template <class T>
std::vector<double> reference_matmul(const T* a, const T* b, int64_t batch, int64_t m, int64_t n, int64_t k,
                                     bool ta, bool tb, bool shared_b) {
  std::vector<double> c(static_cast<std::size_t>(batch * m * n), 0.0);
  for (int64_t p = 0; p < batch; ++p) {
    const T* ap = a + p * m * k;
    const T* bp = b + (shared_b ? 0 : p * k * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q) s += double(at(ap, i, q, k, m, ta)) * double(at(bp, q, j, n, k, tb));
        c[(p * m + i) * n + j] = s;
      }
  }
  return c;
}

TEST(Matmul, TwoByTwoHandWorked) {
  const Var a(Tensor::from_vector({2, 2}, {1, 2, 3, 4}));
  const Var b(Tensor::from_vector({2, 2}, {5, 6, 7, 8}));
  EXPECT_EQ(matmul(a, b).value().to_vector(), (std::vector<float>{19, 22, 43, 50}));
  EXPECT_EQ(matmul(a, b, true, false).value().to_vector(), (std::vector<float>{26, 30, 38, 44}));
  EXPECT_EQ(matmul(a, b, false, true).value().to_vector(), (std::vector<float>{17, 23, 39, 53}));
  EXPECT_EQ(matmul(a, b, true, true).value().to_vector(), (std::vector<float>{23, 31, 34, 46}));
}

TEST(Matmul, BatchedForwardMatchesNaiveReferenceForEveryLayout) {
  struct Case {
    Shape a, b;
    bool ta, tb;
  };
  // Sizes large enough for the per-thread batch loop and the folded shared-b product.
  const std::vector<Case> cases = {
      {{5, 7}, {7, 3}, false, false},
      {{7, 5}, {3, 7}, true, true},
      {{4, 28, 24}, {4, 24, 16}, false, false},
      {{4, 24, 28}, {4, 16, 24}, true, true},
      {{2, 3, 28, 24}, {2, 3, 16, 24}, false, true},
      {{2, 3, 24, 28}, {2, 3, 24, 16}, true, false},
      {{3, 28, 24}, {24, 16}, false, false},
      {{3, 28, 24}, {16, 24}, false, true},
      {{3, 24, 28}, {24, 16}, true, false},
      {{2, 2, 28, 24}, {16, 24}, false, true},
  };
  for (const Case& c : cases) {
    const Tensor a = random_tensor(c.a, 1), b = random_tensor(c.b, 2);
    const Tensor out = matmul(Var(a), Var(b), c.ta, c.tb).value();
    const int64_t r = static_cast<int64_t>(c.a.size());
    const int64_t m = c.ta ? c.a[r - 1] : c.a[r - 2], k = c.ta ? c.a[r - 2] : c.a[r - 1];
    const int64_t n = c.tb ? c.b[c.b.size() - 2] : c.b[c.b.size() - 1];
    const int64_t batch = a.numel() / (m * k);
    const std::vector<double> expect = reference_matmul(a.data(), b.data(), batch, m, n, k, c.ta, c.tb, c.b.size() == 2);
    ASSERT_EQ(out.numel(), static_cast<int64_t>(expect.size()));
    for (std::size_t i = 0; i < expect.size(); ++i) {
      ASSERT_NEAR(out.data()[i], expect[i], 1e-4) << shape_str(c.a) << " x " << shape_str(c.b) << " at " << i;
    }
  }
}

TEST(Matmul, BatchedGemmKernelMatchesNaiveReferenceInDouble) {
  const int64_t batch = 3, m = 4, n = 5, k = 6;
  const std::vector<double> a = random_doubles(batch * m * k, 3), b = random_doubles(batch * k * n, 4);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      // Independent products, accumulated onto ones.
      std::vector<double> c(batch * m * n, 1.0);
      kernels::batched_gemm(c.data(), a.data(), b.data(), {batch, m * k, k * n, m * n}, m, n, k, ta, tb, true);
      const std::vector<double> expect = reference_matmul(a.data(), b.data(), batch, m, n, k, ta, tb, false);
      for (std::size_t i = 0; i < c.size(); ++i) EXPECT_NEAR(c[i], 1.0 + expect[i], 1e-12);
      // Every product summed into one c (stride_c = 0), as for a shared weight's gradient.
      std::vector<double> sum(m * n, 0.0);
      kernels::batched_gemm(sum.data(), a.data(), b.data(), {batch, m * k, k * n, 0}, m, n, k, ta, tb, false);
      for (int64_t i = 0; i < m * n; ++i) {
        double s = 0;
        for (int64_t p = 0; p < batch; ++p) s += expect[p * m * n + i];
        EXPECT_NEAR(sum[i], s, 1e-12) << "ta=" << ta << " tb=" << tb;
      }
    }
  }
}

TEST(Matmul, FewRowProductsMatchNaiveReferenceOnBothSidesOfTheMatrixVectorPath) {
  // Up to kGemvMaxRows rows a product runs row by row; the second shape is wide enough that
  // such a product is also split over threads.
  for (const int64_t n : {int64_t(40), int64_t(1040)}) {
    const int64_t k = n == 40 ? 24 : 520;
    for (const int64_t m : {int64_t(1), int64_t(3), kernels::kGemvMaxRows, kernels::kGemvMaxRows + 1}) {
      const std::vector<double> a = random_doubles(m * k, 11), b = random_doubles(k * n, 12);
      for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
          SCOPED_TRACE("m=" + std::to_string(m) + " n=" + std::to_string(n) + " ta=" + std::to_string(ta) +
                       " tb=" + std::to_string(tb));
          const std::vector<double> expect = reference_matmul(a.data(), b.data(), 1, m, n, k, ta, tb, false);
          std::vector<double> c(m * n, 1.0);
          kernels::gemm(c.data(), a.data(), b.data(), m, n, k, ta, tb, /*accumulate=*/true);
          for (std::size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], 1.0 + expect[i], 1e-10) << i;
          kernels::gemm(c.data(), a.data(), b.data(), m, n, k, ta, tb, /*accumulate=*/false);
          for (std::size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], expect[i], 1e-10) << i;
        }
      }
    }
  }
}

TEST(Matmul, TwoDimensionalGradientsMatchFiniteDifferencesForEveryTransposeFlag) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      SCOPED_TRACE("trans_a=" + std::to_string(ta) + " trans_b=" + std::to_string(tb));
      const Tensor a = random_tensor(ta ? Shape{5, 4} : Shape{4, 5}, 5);
      const Tensor b = random_tensor(tb ? Shape{3, 5} : Shape{5, 3}, 6);
      expect_gradients_match([=](std::vector<Var>& v) { return matmul(v[0], v[1], ta, tb); }, {a, b});
    }
  }
}

TEST(Matmul, BatchedGradientsMatchFiniteDifferences) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      SCOPED_TRACE("trans_a=" + std::to_string(ta) + " trans_b=" + std::to_string(tb));
      const Tensor a3 = random_tensor(ta ? Shape{3, 6, 4} : Shape{3, 4, 6}, 7);
      const Tensor b3 = random_tensor(tb ? Shape{3, 5, 6} : Shape{3, 6, 5}, 8);
      expect_gradients_match([=](std::vector<Var>& v) { return matmul(v[0], v[1], ta, tb); }, {a3, b3});
      // 4-D [B, H, T, D].
      const Tensor a4 = random_tensor(ta ? Shape{2, 3, 4, 3} : Shape{2, 3, 3, 4}, 9);
      const Tensor b4 = random_tensor(tb ? Shape{2, 3, 5, 4} : Shape{2, 3, 4, 5}, 10);
      expect_gradients_match([=](std::vector<Var>& v) { return matmul(v[0], v[1], ta, tb); }, {a4, b4});
    }
  }
}

TEST(Matmul, BatchLargeEnoughForOneProductPerThreadMatchesPerEntryProducts) {
  // q·kᵀ-shaped, above the per-thread threshold forward and backward. The reference is
  // the same product built from finite-difference-checked 2-D matmuls, one per entry
  // (cheaper than finite differences through thousands of parallel regions).
  const Tensor q = random_tensor({2, 40, 8}, 24), k = random_tensor({2, 60, 8}, 25);
  const Tensor weights = random_tensor({2, 40, 60}, 26);
  auto gradients = [&](bool batched) {
    Var vq(q.clone(), true), vk(k.clone(), true);
    Var out;
    if (batched) {
      out = matmul(vq, vk, false, true);
    } else {
      std::vector<Var> entries;
      for (int64_t i = 0; i < 2; ++i) {
        entries.push_back(matmul(reshape(slice(vq, 0, i, i + 1), {40, 8}),
                                 reshape(slice(vk, 0, i, i + 1), {60, 8}), false, true));
      }
      out = reshape(concat(entries, 0), {2, 40, 60});
    }
    Var loss = sum_all(mul(out, Var(weights)));
    backward(loss);
    return std::make_pair(vq.grad().to_vector(), vk.grad().to_vector());
  };
  const auto batched = gradients(true), reference = gradients(false);
  for (std::size_t i = 0; i < batched.first.size(); ++i) EXPECT_NEAR(batched.first[i], reference.first[i], 1e-4);
  for (std::size_t i = 0; i < batched.second.size(); ++i) EXPECT_NEAR(batched.second[i], reference.second[i], 1e-4);
}

TEST(Matmul, SharedRankTwoRightOperandGradientsSumOverTheBatch) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      SCOPED_TRACE("trans_a=" + std::to_string(ta) + " trans_b=" + std::to_string(tb));
      const Tensor a3 = random_tensor(ta ? Shape{3, 5, 4} : Shape{3, 4, 5}, 11);
      const Tensor a4 = random_tensor(ta ? Shape{2, 2, 5, 4} : Shape{2, 2, 4, 5}, 12);
      const Tensor b = random_tensor(tb ? Shape{6, 5} : Shape{5, 6}, 13);
      expect_gradients_match([=](std::vector<Var>& v) { return matmul(v[0], v[1], ta, tb); }, {a3, b});
      expect_gradients_match([=](std::vector<Var>& v) { return matmul(v[0], v[1], ta, tb); }, {a4, b});
    }
  }
}

TEST(Matmul, ShapeErrorsNameTheOpAndShapes) {
  const Var a(Tensor::zeros({2, 3, 4})), b(Tensor::zeros({2, 5, 6}));
  try {
    matmul(a, b);
    FAIL() << "matmul with inner dims 4 and 5 did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("matmul"));
    EXPECT_THAT(e.what(), HasSubstr("[2, 3, 4]"));
    EXPECT_THAT(e.what(), HasSubstr("[2, 5, 6]"));
    EXPECT_THAT(e.what(), HasSubstr("inner dimensions"));
  }
  EXPECT_THROW(matmul(Var(Tensor::zeros({2, 3, 4})), Var(Tensor::zeros({3, 4, 5}))), std::invalid_argument);
  EXPECT_THROW(matmul(Var(Tensor::zeros({4})), Var(Tensor::zeros({4, 5}))), std::invalid_argument);
  EXPECT_THROW(matmul(Var(Tensor::zeros({3, 4})), Var(Tensor::zeros({2, 4, 5}))), std::invalid_argument);
  EXPECT_THROW(matmul(Var(Tensor::zeros({1, 1, 1, 2, 3, 4})), Var(Tensor::zeros({4, 5}))), std::invalid_argument);
}

TEST(Linear, MatchesMatmulPlusBias) {
  const Tensor x = random_tensor({2, 3, 8}, 14), w = random_tensor({5, 8}, 15), b = random_tensor({5}, 16);
  const Tensor y = linear(Var(x), Var(w), Var(b)).value();
  const Tensor ref = add(matmul(Var(x), Var(w), false, true), Var(b)).value();
  ASSERT_EQ(y.shape(), (Shape{2, 3, 5}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_NEAR(y.data()[i], ref.data()[i], 1e-5);
  const Tensor no_bias = linear(Var(x), Var(w), Var()).value();
  const Tensor ref_no_bias = matmul(Var(x), Var(w), false, true).value();
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(no_bias.data()[i], ref_no_bias.data()[i]);
}

// Sets the OpenMP thread count for one scope.
class ThreadsForScope {
 public:
  explicit ThreadsForScope(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~ThreadsForScope() { omp_set_num_threads(saved_); }
  ThreadsForScope(const ThreadsForScope&) = delete;
  ThreadsForScope& operator=(const ThreadsForScope&) = delete;

 private:
  int saved_;
};

TEST(Linear, EveryBlockOfASplitProductStartsFromTheBias) {
  // The bias is set by each thread's block of the product (kernels::gemm's bias): split by
  // rows (rows >= out) and by columns (out > rows), on 2 threads, above the parallel threshold.
  const ThreadsForScope two(2);
  for (const Shape& dims : {Shape{256, 64, 96}, Shape{48, 64, 512}}) {
    const Tensor x = random_tensor({dims[0], dims[1]}, 28), w = random_tensor({dims[2], dims[1]}, 29);
    const Tensor b = random_tensor({dims[2]}, 30);
    ASSERT_GE(dims[0] * dims[1] * dims[2], kernels::kGemmParallelWork);
    const Tensor y = linear(Var(x), Var(w), Var(b)).value();
    const std::vector<double> ref = reference_matmul(x.data(), w.data(), 1, dims[0], dims[2], dims[1], false, true, false);
    for (int64_t i = 0; i < y.numel(); ++i) {
      ASSERT_NEAR(y.data()[i], ref[i] + b.data()[i % dims[2]], 1e-4) << shape_str(dims) << " at " << i;
    }
  }
}

TEST(Linear, GradientsMatchFiniteDifferencesWithAndWithoutBias) {
  const Tensor x = random_tensor({2, 3, 6}, 17), w = random_tensor({4, 6}, 18), b = random_tensor({4}, 19);
  expect_gradients_match([](std::vector<Var>& v) { return linear(v[0], v[1], v[2]); }, {x, w, b});
  expect_gradients_match([](std::vector<Var>& v) { return linear(v[0], v[1], Var()); }, {x, w});
  // A rank-1 input is a single row.
  expect_gradients_match([](std::vector<Var>& v) { return linear(v[0], v[1], v[2]); },
                         {random_tensor({6}, 20), w, b});
}

TEST(Linear, LargeBiasGradientIsTheColumnSumOfTheOutputGradient) {
  // Above the parallel threshold: the bias gradient is reduced over column chunks.
  const int64_t rows = 300, out = 130;
  Var x(random_tensor({rows, 7}, 21)), w(random_tensor({out, 7}, 22), true), b(Tensor::zeros({out}), true);
  Var y = linear(x, w, b);
  const Tensor g = random_tensor({rows, out}, 23);
  Var loss = sum_all(mul(y, Var(g)));
  backward(loss);
  for (int64_t j = 0; j < out; ++j) {
    double s = 0;
    for (int64_t r = 0; r < rows; ++r) s += g.data()[r * out + j];
    EXPECT_NEAR(b.grad().data()[j], s, 1e-3) << j;
  }
  EXPECT_FALSE(x.has_grad());
}

// Leaves buffers full of NaN in the pool, of the sizes given, for the next tensors to reuse.
void poison_pool(const std::vector<Shape>& shapes) {
  std::vector<Tensor> poisoned;
  for (const Shape& shape : shapes) {
    for (int copy = 0; copy < 4; ++copy) poisoned.push_back(Tensor::full(shape, std::nanf("")));
  }
}

TEST(Linear, GradientsMadeByTheirFirstProductOverwriteRecycledMemory) {
  // The first product into a gradient writes it instead of adding to zeros (Var::grad_to_fill),
  // so its buffer starts with whatever the pool held; x read twice adds the second product.
  // Above the parallel threshold, so each of 2 threads writes its block.
  const ThreadsForScope two(2);
  const Tensor x0 = random_tensor({48, 400}, 24), w0 = random_tensor({32, 400}, 25), v0 = random_tensor({400, 32}, 26);
  const Tensor g = random_tensor({48, 32}, 27);
  ASSERT_GE(48 * 400 * 32, kernels::kGemmParallelWork);
  auto gradients = [&] {
    Var x(x0.clone(), true), w(w0.clone(), true), v(v0.clone(), true);
    Var y = add(linear(x, w, Var()), matmul(x, v, false, false));
    Var loss = sum_all(mul(y, Var(g)));
    backward(loss);
    return std::vector<Tensor>{x.grad().clone(), w.grad().clone(), v.grad().clone()};
  };
  const std::vector<Tensor> clean = gradients();
  poison_pool({{48, 400}, {32, 400}, {400, 32}});
  const std::vector<Tensor> reused = gradients();
  for (std::size_t i = 0; i < clean.size(); ++i) {
    for (int64_t j = 0; j < clean[i].numel(); ++j) ASSERT_EQ(reused[i].data()[j], clean[i].data()[j]) << i << ", " << j;
  }
  // Against the products in double: dx = g·w + g·vᵀ, dw = gᵀ·x, dv = xᵀ·g.
  const std::vector<double> gw = reference_matmul(g.data(), w0.data(), 1, 48, 400, 32, false, false, false);
  const std::vector<double> gv = reference_matmul(g.data(), v0.data(), 1, 48, 400, 32, false, true, false);
  const std::vector<double> dw = reference_matmul(g.data(), x0.data(), 1, 32, 400, 48, true, false, false);
  const std::vector<double> dv = reference_matmul(x0.data(), g.data(), 1, 400, 32, 48, true, false, false);
  for (std::size_t i = 0; i < gw.size(); ++i) EXPECT_NEAR(clean[0].data()[i], gw[i] + gv[i], 1e-4) << i;
  for (std::size_t i = 0; i < dw.size(); ++i) EXPECT_NEAR(clean[1].data()[i], dw[i], 1e-4) << i;
  for (std::size_t i = 0; i < dv.size(); ++i) EXPECT_NEAR(clean[2].data()[i], dv[i], 1e-4) << i;
}

TEST(Matmul, BatchedGradientsMadeByTheirFirstProductOverwriteRecycledMemory) {
  // Per-entry products (one per thread) for a's and b's gradients, and a shared b whose
  // gradient sums every entry's product, each written first into a NaN-poisoned buffer.
  const ThreadsForScope two(2);
  const Tensor a0 = random_tensor({8, 16, 24}, 31), b0 = random_tensor({8, 24, 20}, 32);
  const Tensor shared0 = random_tensor({24, 20}, 33), g = random_tensor({8, 16, 20}, 34);
  poison_pool({{8, 16, 24}, {8, 24, 20}, {24, 20}});
  Var a(a0.clone(), true), b(b0.clone(), true), shared(shared0.clone(), true);
  Var loss = sum_all(mul(add(matmul(a, b, false, false), matmul(a, shared, false, false)), Var(g)));
  backward(loss);
  for (int64_t p = 0; p < 8; ++p) {
    const float* gp = g.data() + p * 16 * 20;
    const std::vector<double> da = reference_matmul(gp, b0.data() + p * 24 * 20, 1, 16, 24, 20, false, true, false);
    const std::vector<double> da_shared = reference_matmul(gp, shared0.data(), 1, 16, 24, 20, false, true, false);
    const std::vector<double> db = reference_matmul(a0.data() + p * 16 * 24, gp, 1, 24, 20, 16, true, false, false);
    for (std::size_t i = 0; i < da.size(); ++i) EXPECT_NEAR(a.grad().data()[p * 16 * 24 + i], da[i] + da_shared[i], 1e-4);
    for (std::size_t i = 0; i < db.size(); ++i) EXPECT_NEAR(b.grad().data()[p * 24 * 20 + i], db[i], 1e-4);
  }
  // The shared b's gradient: Σ_p a_pᵀ·g_p = (all rows of a)ᵀ·(all rows of g).
  const std::vector<double> ds = reference_matmul(a0.data(), g.data(), 1, 24, 20, 8 * 16, true, false, false);
  for (std::size_t i = 0; i < ds.size(); ++i) EXPECT_NEAR(shared.grad().data()[i], ds[i], 1e-4);
}

TEST(Linear, ShapeErrorsNameTheOpAndShapes) {
  const Var x(Tensor::zeros({2, 3})), w(Tensor::zeros({4, 5})), b(Tensor::zeros({4}));
  try {
    linear(x, w, b);
    FAIL() << "linear with x [2, 3] and weight [4, 5] did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("linear"));
    EXPECT_THAT(e.what(), HasSubstr("[2, 3]"));
    EXPECT_THAT(e.what(), HasSubstr("[4, 5]"));
  }
  EXPECT_THROW(linear(Var(Tensor::zeros({2, 5})), w, Var(Tensor::zeros({5}))), std::invalid_argument);
  EXPECT_THROW(linear(Var(Tensor::zeros({2, 5})), Var(Tensor::zeros({5})), Var()), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
