// Cross-entropy: kernel gradients in double, op gradients in float, ignore_index, errors.
#include <gtest/gtest.h>

#include <cmath>

#include <tapelm/autograd/kernels/cross_entropy.h>
#include "gradcheck.h"

namespace tapelm {
namespace {

using testing::expect_gradients_match;
using testing::numerical_gradient;
using testing::random_doubles;
using testing::random_tensor;

TEST(CrossEntropy, KernelGradientMatchesFiniteDifferencesInDoubleWithIgnoredRows) {
  const int64_t N = 5, V = 7;
  const std::vector<int32_t> targets = {3, kIgnoreIndex, 0, 6, kIgnoreIndex};
  const double valid = 3;
  const std::vector<double> logits = random_doubles(N * V, 1, 3.0);
  for (const double smoothing : {0.0, 0.1}) {
    SCOPED_TRACE("label_smoothing " + std::to_string(smoothing));
    auto mean_loss = [&](const std::vector<double>& x) {
      std::vector<double> losses(N), lse(N);
      kernels::cross_entropy_forward(losses.data(), lse.data(), x.data(), targets.data(), N, V, kIgnoreIndex,
                                     smoothing);
      double s = 0;
      for (double l : losses) s += l;
      return s / valid;
    };
    std::vector<double> losses(N), lse(N);
    kernels::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, V, kIgnoreIndex,
                                   smoothing);
    const std::vector<double> numeric = numerical_gradient(mean_loss, logits);
    // Accumulating adds to what is there; overwriting replaces even garbage (ignored rows too).
    const double prior = 0.5;
    std::vector<double> accumulated(N * V, prior), written(N * V, 1e30);
    kernels::cross_entropy_backward(accumulated.data(), logits.data(), lse.data(), targets.data(), 1.0 / valid, N,
                                    V, kIgnoreIndex, true, smoothing);
    kernels::cross_entropy_backward(written.data(), logits.data(), lse.data(), targets.data(), 1.0 / valid, N, V,
                                    kIgnoreIndex, false, smoothing);
    for (int64_t i = 0; i < N * V; ++i) {
      EXPECT_NEAR(accumulated[i] - prior, numeric[i], 1e-7) << i;
      EXPECT_NEAR(written[i], numeric[i], 1e-7) << i;
    }
  }
}

TEST(CrossEntropy, WeightedKernelGradientMatchesFiniteDifferencesInDouble) {
  const int64_t N = 5, V = 4;
  const std::vector<int32_t> targets = {3, kIgnoreIndex, 0, 2, 0};
  const std::vector<double> weights = {2.5, 0.5, 0.25, 1.5};
  const double weight_sum = 1.5 + 2.5 + 0.25 + 2.5;
  const std::vector<double> logits = random_doubles(N * V, 2, 3.0);
  for (const double smoothing : {0.0, 0.1}) {
    SCOPED_TRACE("label_smoothing " + std::to_string(smoothing));
    auto weighted_mean = [&](const std::vector<double>& x) {
      std::vector<double> losses(N), lse(N);
      kernels::cross_entropy_forward(losses.data(), lse.data(), x.data(), targets.data(), N, V, kIgnoreIndex,
                                     smoothing, weights.data());
      double s = 0;
      for (double l : losses) s += l;
      return s / weight_sum;
    };
    std::vector<double> losses(N), lse(N);
    kernels::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, V, kIgnoreIndex,
                                   smoothing, weights.data());
    const std::vector<double> numeric = numerical_gradient(weighted_mean, logits);
    std::vector<double> analytic(N * V, 1e30);
    kernels::cross_entropy_backward(analytic.data(), logits.data(), lse.data(), targets.data(), 1.0 / weight_sum, N,
                                    V, kIgnoreIndex, false, smoothing, weights.data());
    for (int64_t i = 0; i < N * V; ++i) EXPECT_NEAR(analytic[i], numeric[i], 1e-7) << i;
  }
}

TEST(CrossEntropy, ClassWeightsGiveTheWeightedMeanOfTheRowLosses) {
  // Row 0: logits (0, 0), target 0 → ln 2; row 1: logits (1, 0), target 1 → ln(1 + e).
  // Weights (3, 1): (3·ln 2 + ln(1 + e)) / (3 + 1), not the plain mean (ln 2 + ln(1 + e)) / 2.
  const Var logits(Tensor::from_vector({2, 2}, {0.0f, 0.0f, 1.0f, 0.0f}));
  const double expected = (3 * std::log(2.0) + std::log(1 + std::exp(1.0))) / 4;
  EXPECT_NEAR(cross_entropy(logits, {0, 1}, kIgnoreIndex, 0.0f, {3.0f, 1.0f}).item(), expected, 1e-6);
  // An ignored row's weight does not enter the denominator.
  const Var three(Tensor::from_vector({3, 2}, {0.0f, 0.0f, 5.0f, 0.0f, 1.0f, 0.0f}));
  EXPECT_NEAR(cross_entropy(three, {0, kIgnoreIndex, 1}, kIgnoreIndex, 0.0f, {3.0f, 1.0f}).item(), expected, 1e-6);
}

TEST(CrossEntropy, WeightsOfOneEqualTheUnweightedLossBitForBit) {
  const Tensor logits = random_tensor({3, 4, 6}, 11, 2.0f);
  const std::vector<int32_t> targets = {5, 0, kIgnoreIndex, 3, 1, 1, 2, kIgnoreIndex, 4, 0, 5, 3};
  for (const float smoothing : {0.0f, 0.1f}) {
    SCOPED_TRACE("label_smoothing " + std::to_string(smoothing));
    Var plain(logits.clone(), true);
    Var plain_loss = cross_entropy(plain, targets, kIgnoreIndex, smoothing);
    backward(plain_loss);
    Var ones(logits.clone(), true);
    Var ones_loss = cross_entropy(ones, targets, kIgnoreIndex, smoothing, std::vector<float>(6, 1.0f));
    backward(ones_loss);
    EXPECT_EQ(plain_loss.item(), ones_loss.item());
    EXPECT_EQ(plain.grad().to_vector(), ones.grad().to_vector());
  }
}

TEST(CrossEntropy, WeightedOpGradientMatchesFiniteDifferences) {
  const std::vector<int32_t> targets = {1, 4, kIgnoreIndex, 0, 2, 3};
  const std::vector<float> weights = {0.5f, 2.0f, 1.0f, 3.0f, 0.25f};
  expect_gradients_match(
      [&](std::vector<Var>& v) { return cross_entropy(v[0], targets, kIgnoreIndex, 0.2f, weights); },
      {random_tensor({2, 3, 5}, 4, 2.0f)});
}

TEST(CrossEntropy, ClassWeightsMustBeOnePerClassFiniteAndPositive) {
  const Var logits(Tensor::zeros({2, 3}));
  EXPECT_THROW(cross_entropy(logits, {0, 1}, kIgnoreIndex, 0.0f, {1.0f, 1.0f}), std::invalid_argument);
  EXPECT_THROW(cross_entropy(logits, {0, 1}, kIgnoreIndex, 0.0f, {1.0f, 0.0f, 1.0f}), std::invalid_argument);
  EXPECT_THROW(cross_entropy(logits, {0, 1}, kIgnoreIndex, 0.0f, {1.0f, NAN, 1.0f}), std::invalid_argument);
}

TEST(CrossEntropy, LabelSmoothingMixesTheTargetWithTheUniformDistribution) {
  // logits (2, 0, 1), target 1, ε = 0.3: −Σ_v q_v log p_v with q = 0.7·onehot + 0.1.
  const Var logits(Tensor::from_vector({1, 3}, {2.0f, 0.0f, 1.0f}));
  const double lse = std::log(std::exp(2.0) + 1.0 + std::exp(1.0));
  const double expected = 0.8 * (lse - 0.0) + 0.1 * (lse - 2.0) + 0.1 * (lse - 1.0);
  EXPECT_NEAR(cross_entropy(logits, {1}, kIgnoreIndex, 0.3f).item(), expected, 1e-6);
  EXPECT_NEAR(cross_entropy(logits, {1}, kIgnoreIndex, 0.0f).item(), lse, 1e-6);
}

TEST(CrossEntropy, SmoothedOpGradientMatchesFiniteDifferences) {
  const std::vector<int32_t> targets = {1, 4, kIgnoreIndex, 0, 2, 3};
  expect_gradients_match([&](std::vector<Var>& v) { return cross_entropy(v[0], targets, kIgnoreIndex, 0.2f); },
                         {random_tensor({2, 3, 5}, 3, 2.0f)});
}

TEST(CrossEntropy, LabelSmoothingOutsideZeroToOneIsRejected) {
  const Var logits(Tensor::zeros({1, 3}));
  EXPECT_THROW(cross_entropy(logits, {0}, kIgnoreIndex, 1.0f), std::invalid_argument);
  EXPECT_THROW(cross_entropy(logits, {0}, kIgnoreIndex, -0.1f), std::invalid_argument);
}

TEST(CrossEntropy, BackwardAddsToAGradientTheLogitsAlreadyHave) {
  const Tensor logits = random_tensor({3, 5}, 2);
  const std::vector<int32_t> targets = {4, kIgnoreIndex, 1};
  Var once(logits.clone(), true);
  Var loss = cross_entropy(once, targets);
  backward(loss);
  // Logits used twice: the second node must add to the gradient the first one wrote.
  Var twice(logits.clone(), true);
  Var loss2 = add(cross_entropy(twice, targets), cross_entropy(twice, targets));
  backward(loss2);
  for (int64_t i = 0; i < logits.numel(); ++i) EXPECT_FLOAT_EQ(twice.grad().data()[i], 2 * once.grad().data()[i]);
}

TEST(CrossEntropy, OpGradientMatchesFiniteDifferences) {
  const std::vector<int32_t> targets = {1, 4, kIgnoreIndex, 0, 2, 3};
  expect_gradients_match([&](std::vector<Var>& v) { return cross_entropy(v[0], targets); },
                         {random_tensor({2, 3, 5}, 3, 2.0f)});
}

TEST(CrossEntropy, UniformLogitsGiveLogOfTheVocabularySize) {
  const Var logits(Tensor::zeros({4, 10}));
  EXPECT_NEAR(cross_entropy(logits, {0, 3, 9, 5}).item(), std::log(10.0), 1e-6);
}

TEST(CrossEntropy, MatchesANaiveLogSoftmaxEvenForLargeLogits) {
  const int64_t N = 4, V = 9;
  const Tensor logits = random_tensor({N, V}, 5, 60.0f);  // exp would overflow without the max shift
  const std::vector<int32_t> targets = {8, 0, 4, 2};
  double expected = 0;
  for (int64_t n = 0; n < N; ++n) {
    const float* row = logits.data() + n * V;
    double m = row[0];
    for (int64_t v = 1; v < V; ++v) m = std::max(m, double(row[v]));
    double s = 0;
    for (int64_t v = 0; v < V; ++v) s += std::exp(row[v] - m);
    expected += m + std::log(s) - row[targets[n]];
  }
  expected /= N;
  EXPECT_NEAR(cross_entropy(Var(logits), targets).item(), expected, 1e-4 * std::abs(expected));
}

TEST(CrossEntropy, IgnoredRowsContributeNothing) {
  const Tensor logits = random_tensor({4, 6}, 7);
  Var all(logits.clone(), true);
  Var loss = cross_entropy(all, {2, kIgnoreIndex, 5, kIgnoreIndex});
  backward(loss);
  // The same loss from the two valid rows alone.
  Tensor valid_rows({2, 6});
  std::copy(logits.data(), logits.data() + 6, valid_rows.data());
  std::copy(logits.data() + 12, logits.data() + 18, valid_rows.data() + 6);
  Var only(valid_rows, true);
  Var loss_valid = cross_entropy(only, {2, 5});
  backward(loss_valid);
  EXPECT_FLOAT_EQ(loss.item(), loss_valid.item());
  for (int64_t v = 0; v < 6; ++v) {
    EXPECT_EQ(all.grad().data()[6 + v], 0.0f);
    EXPECT_EQ(all.grad().data()[18 + v], 0.0f);
    EXPECT_FLOAT_EQ(all.grad().data()[v], only.grad().data()[v]);
    EXPECT_FLOAT_EQ(all.grad().data()[12 + v], only.grad().data()[6 + v]);
  }
}

TEST(CrossEntropy, AllRowsIgnoredGivesZeroLossAndZeroGradient) {
  Var logits(random_tensor({3, 4}, 9), true);
  Var loss = cross_entropy(logits, {kIgnoreIndex, kIgnoreIndex, kIgnoreIndex});
  EXPECT_EQ(loss.item(), 0.0f);
  backward(loss);
  ASSERT_TRUE(logits.has_grad());
  for (float g : logits.grad().to_vector()) EXPECT_EQ(g, 0.0f);
}

TEST(CrossEntropy, CustomIgnoreIndexIsHonoured) {
  const Var logits(random_tensor({2, 4}, 10));
  EXPECT_FLOAT_EQ(cross_entropy(logits, {1, 0}, 0).item(), cross_entropy(logits, {1, kIgnoreIndex}).item());
}

TEST(CrossEntropy, OutOfRangeTargetThrowsNamingTheRowAndValue) {
  const Var logits(Tensor::zeros({3, 10}));
  try {
    cross_entropy(logits, {1, 2, 10});
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cross_entropy: target 10 at row 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("10 classes"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cross_entropy(logits, {1, -1, 0}), std::invalid_argument);
}

TEST(CrossEntropy, WrongTargetCountThrowsNamingTheShape) {
  try {
    cross_entropy(Var(Tensor::zeros({2, 3, 5})), {1, 2, 3});
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3, 5] have 6 rows but 3 targets"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cross_entropy(Var(Tensor::scalar(1.0f)), {0}), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
