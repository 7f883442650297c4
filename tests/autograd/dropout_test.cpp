// Dropout: reproducible masks, keep rate and scale, identity in eval, gradients.
#include "autograd/kernels/dropout.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <string>

#include "gradcheck.h"

namespace tapelm {
namespace {

using testing::expect_gradients_match;
using testing::numerical_gradient;
using testing::random_doubles;
using testing::random_tensor;

TEST(Dropout, IsTheIdentityInEvalModeAndWhenPIsZeroAndDrawsNothing) {
  const Var x(random_tensor({4, 5}, 1));
  Rng rng(7);
  EXPECT_TRUE(dropout(x, 0.5f, rng, /*training=*/false).same(x));
  EXPECT_TRUE(dropout(x, 0.0f, rng, /*training=*/true).same(x));
  EXPECT_EQ(rng.counter(), 0u);
}

TEST(Dropout, KeepsAboutOneMinusPAndScalesSurvivorsByItsInverse) {
  const int64_t n = 100000;
  const float p = 0.3f;
  const Var x(random_tensor({n}, 2));
  Rng rng(11);
  const Var y = dropout(x, p, rng, true);
  EXPECT_EQ(rng.counter(), static_cast<uint64_t>(n));
  int64_t kept = 0;
  const float scale = 1.0f / (1.0f - p);
  for (int64_t i = 0; i < n; ++i) {
    if (y.data()[i] == 0.0f) continue;
    ++kept;
    EXPECT_EQ(y.data()[i], x.data()[i] * scale) << i;
  }
  // Binomial standard deviation is sqrt(p(1-p)/n) ≈ 0.0014: 0.01 is seven of them.
  EXPECT_NEAR(double(kept) / n, 1.0 - p, 0.01);
}

TEST(Dropout, IsReproducibleForASeedAndDiffersAcrossSeedsAndCalls) {
  const Var x(Tensor::full({1000}, 1.0f));
  Rng a(5), b(5), c(6);
  const std::vector<float> first = dropout(x, 0.5f, a, true).value().to_vector();
  EXPECT_EQ(first, dropout(x, 0.5f, b, true).value().to_vector());
  EXPECT_NE(first, dropout(x, 0.5f, c, true).value().to_vector());
  EXPECT_NE(first, dropout(x, 0.5f, a, true).value().to_vector()) << "the stream must advance between calls";
}

TEST(Dropout, BackwardUsesTheForwardMask) {
  Var x(Tensor::full({3000}, 1.0f), true);
  Rng rng(9);
  Var y = dropout(x, 0.25f, rng, true);
  Var loss = sum_all(y);
  backward(loss);
  // With x = 1 and dL/dy = 1, dL/dx equals the forward output element for element.
  EXPECT_EQ(x.grad().to_vector(), y.value().to_vector());
}

TEST(Dropout, KernelGradientMatchesFiniteDifferencesInDouble) {
  const int64_t n = 40;
  const Rng rng(3);
  const float p = 0.4f;
  const std::vector<double> x = random_doubles(n, 4);
  const std::vector<double> r = random_doubles(n, 5);
  auto loss = [&](const std::vector<double>& in) {
    std::vector<double> out(n);
    kernels::dropout_forward(out.data(), in.data(), rng, 17, p, n);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += out[i] * r[i];
    return s;
  };
  std::vector<double> analytic(n, 0.0);
  kernels::dropout_backward(analytic.data(), r.data(), rng, 17, p, n);
  const std::vector<double> numeric = numerical_gradient(loss, x);
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(analytic[i], numeric[i], 1e-7) << i;
}

TEST(Dropout, OpGradientMatchesFiniteDifferences) {
  expect_gradients_match(
      [](std::vector<Var>& v) {
        Rng rng(21);  // fresh per call, so every probe sees the same mask
        return dropout(v[0], 0.3f, rng, true);
      },
      {random_tensor({6, 7}, 6)});
}

std::vector<float> dropout_output(int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  Rng rng(13);
  rng.skip(5);
  const std::vector<float> out = dropout(Var(random_tensor({70000}, 7)), 0.2f, rng, true).value().to_vector();
  omp_set_num_threads(saved);
  return out;
}

TEST(Dropout, MaskIsBitwiseIndependentOfThreadCount) { EXPECT_EQ(dropout_output(1), dropout_output(2)); }

TEST(Dropout, RejectsPOutsideZeroToOne) {
  const Var x(Tensor::zeros({2, 3}));
  Rng rng;
  for (float p : {1.0f, -0.1f, 1.5f, NAN}) {
    try {
      dropout(x, p, rng, false);
      ADD_FAILURE() << "p = " << p << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("dropout: p must be in [0, 1)"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tapelm
