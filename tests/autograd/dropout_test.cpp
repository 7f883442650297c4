// Dropout: masks as a pure function of (key, global row, coordinates), keep rate and scale,
// identity in eval, gradients.
#include <tapelm/autograd/kernels/dropout.h>

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

// Whether element i of dropout(ones) survived.
std::vector<bool> kept(const Shape& shape, uint64_t key, int64_t first_row, float p = 0.5f) {
  const std::vector<float> out = dropout(Var(Tensor::full(shape, 1.0f)), p, key, first_row, true).value().to_vector();
  std::vector<bool> result;
  for (float v : out) result.push_back(v != 0.0f);
  return result;
}

TEST(Dropout, IsTheIdentityInEvalModeAndWhenPIsZero) {
  const Var x(random_tensor({4, 5}, 1));
  EXPECT_TRUE(dropout(x, 0.5f, 7, 0, /*training=*/false).same(x));
  EXPECT_TRUE(dropout(x, 0.0f, 7, 0, /*training=*/true).same(x));
}

TEST(Dropout, KeepsAboutOneMinusPAndScalesSurvivorsByItsInverse) {
  const int64_t n = 100000;
  const float p = 0.3f;
  const Var x(random_tensor({100, 1000}, 2));
  const Var y = dropout(x, p, 11, 0, true);
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

// Correlation of two equally long 0/1 sequences.
double correlation(const std::vector<bool>& a, const std::vector<bool>& b) {
  double sa = 0, sb = 0, sab = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sa += a[i];
    sb += b[i];
    sab += a[i] && b[i];
  }
  const double n = static_cast<double>(a.size()), ma = sa / n, mb = sb / n;
  return (sab / n - ma * mb) / std::sqrt(ma * (1 - ma) * mb * (1 - mb));
}

// The mask of (a, b, c) against the one shifted by `shift` elements in flat order.
double shifted_correlation(const std::vector<bool>& mask, std::size_t shift) {
  return correlation(std::vector<bool>(mask.begin(), mask.end() - static_cast<std::ptrdiff_t>(shift)),
                     std::vector<bool>(mask.begin() + static_cast<std::ptrdiff_t>(shift), mask.end()));
}

TEST(Dropout, MasksOfNeighbouringElementsExamplesSitesAndStepsAreUncorrelated) {
  // A [B, T, C] site of 262,144 elements: one standard error of a correlation is 0.002.
  const int64_t B = 8, T = 256, C = 128;
  const float p = 0.1f;
  const std::vector<bool> mask = kept({B, T, C}, 1001, 0, p);
  const double tolerance = 5 / std::sqrt(static_cast<double>(B * T * C));
  EXPECT_NEAR(shifted_correlation(mask, 1), 0, tolerance) << "neighbouring channels";
  EXPECT_NEAR(shifted_correlation(mask, C), 0, tolerance) << "neighbouring positions";
  EXPECT_NEAR(shifted_correlation(mask, T * C), 0, tolerance) << "neighbouring examples";
  // Other keys stand for the next site of the same step and for the same site a step later.
  EXPECT_NEAR(correlation(mask, kept({B, T, C}, 1002, 0, p)), 0, tolerance) << "another site or step";
}

TEST(Dropout, IsAPureFunctionOfKeyAndRowAndDiffersAcrossThem) {
  const Shape shape = {4, 250};
  const std::vector<bool> first = kept(shape, 5, 0);
  EXPECT_EQ(first, kept(shape, 5, 0));
  EXPECT_NE(first, kept(shape, 6, 0)) << "another key (step or site)";
  EXPECT_NE(first, kept(shape, 5, 4)) << "other examples";
}

// Example k alone, inside a batch at row b (first_row = k - b), and padded to a longer
// extent: the elements it has in common keep the same mask.
TEST(Dropout, MaskOfAnExampleDoesNotDependOnItsBatchOrPadding) {
  const int64_t k = 7, b = 2, T = 3, C = 5, padded_T = 6, B = 4;
  const uint64_t key = 0x1234;
  const std::vector<bool> alone = kept({1, T, C}, key, k);
  const std::vector<bool> batch = kept({B, padded_T, C}, key, k - b);
  int64_t dropped = 0;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t c = 0; c < C; ++c) {
      EXPECT_EQ(alone[t * C + c], batch[(b * padded_T + t) * C + c]) << "t " << t << ", c " << c;
      dropped += !alone[t * C + c];
    }
  }
  EXPECT_GT(dropped, 0) << "nothing dropped: the comparison is vacuous";
  // Attention-probability-like [B, heads, T, T], padded in both position dimensions.
  const int64_t H = 2;
  const std::vector<bool> alone4 = kept({1, H, T, T}, key, k);
  const std::vector<bool> batch4 = kept({B, H, padded_T, padded_T}, key, k - b);
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t q = 0; q < T; ++q) {
      for (int64_t s = 0; s < T; ++s) {
        EXPECT_EQ(alone4[(h * T + q) * T + s], batch4[((b * H + h) * padded_T + q) * padded_T + s])
            << "h " << h << ", q " << q << ", s " << s;
      }
    }
  }
}

// A classifier's windows of several documents are rows picked from the step's global batch.
TEST(Dropout, ListedRowsDrawTheMasksOfThoseRowsOfTheGlobalBatch) {
  const int64_t C = 50;
  const uint64_t key = 0x77;
  const std::vector<float> global =
      dropout(Var(Tensor::full({6, C}, 1.0f)), 0.5f, key, 0, true).value().to_vector();
  const std::vector<float> picked =
      dropout(Var(Tensor::full({2, C}, 1.0f)), 0.5f, key, DropoutRows::listed({5, 2}), true)
          .value()
          .to_vector();
  EXPECT_EQ(std::vector<float>(picked.begin(), picked.begin() + C),
            std::vector<float>(global.begin() + 5 * C, global.begin() + 6 * C));
  EXPECT_EQ(std::vector<float>(picked.begin() + C, picked.end()),
            std::vector<float>(global.begin() + 2 * C, global.begin() + 3 * C));
  EXPECT_NE(std::vector<float>(picked.begin(), picked.begin() + C), std::vector<float>(picked.begin() + C, picked.end()));
}

TEST(Dropout, BackwardUsesTheForwardMask) {
  Var x(Tensor::full({30, 100}, 1.0f), true);
  Var y = dropout(x, 0.25f, 9, 3, true);
  Var loss = sum_all(y);
  backward(loss);
  // With x = 1 and dL/dy = 1, dL/dx equals the forward output element for element.
  EXPECT_EQ(x.grad().to_vector(), y.value().to_vector());
}

TEST(Dropout, KernelGradientMatchesFiniteDifferencesInDouble) {
  const Shape dims = {5, 8};
  const int64_t n = 40;
  const float p = 0.4f;
  const std::vector<double> x = random_doubles(n, 4);
  const std::vector<double> r = random_doubles(n, 5);
  auto loss = [&](const std::vector<double>& in) {
    std::vector<double> out(n);
    kernels::dropout_forward(out.data(), in.data(), dims, 3, 17, p);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += out[i] * r[i];
    return s;
  };
  std::vector<double> analytic(n, 0.0);
  kernels::dropout_backward(analytic.data(), r.data(), dims, 3, 17, p);
  const std::vector<double> numeric = numerical_gradient(loss, x);
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(analytic[i], numeric[i], 1e-7) << i;
}

TEST(Dropout, OpGradientMatchesFiniteDifferences) {
  expect_gradients_match([](std::vector<Var>& v) { return dropout(v[0], 0.3f, 21, 0, true); },
                         {random_tensor({6, 7}, 6)});
  expect_gradients_match([](std::vector<Var>& v) { return dropout(v[0], 0.3f, 22, 5, true); },
                         {random_tensor({2, 3, 4}, 7)});
}

std::vector<float> dropout_output(int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  const std::vector<float> out = dropout(Var(random_tensor({7, 100, 100}, 7)), 0.2f, 13, 5, true).value().to_vector();
  omp_set_num_threads(saved);
  return out;
}

TEST(Dropout, MaskIsBitwiseIndependentOfThreadCount) { EXPECT_EQ(dropout_output(1), dropout_output(2)); }

TEST(Dropout, RejectsPOutsideZeroToOne) {
  const Var x(Tensor::zeros({2, 3}));
  for (float p : {1.0f, -0.1f, 1.5f, NAN}) {
    try {
      dropout(x, p, 0, 0, false);
      ADD_FAILURE() << "p = " << p << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("dropout: p must be in [0, 1)"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tapelm
