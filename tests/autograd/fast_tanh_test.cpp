// The vectorisable tanh used by the GELU kernels.
#include <tapelm/autograd/kernels/fast_tanh.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <tapelm/autograd/kernels/activation.h>

namespace tapelm {
namespace {

using kernels::fast_tanh;

TEST(FastTanh, FloatIsWithinTwoE7OfTanhOverADenseRange) {
  double worst = 0;
  // ~200k points over [-20, 20]: covers the curved middle and both saturated tails.
  for (float x = -20.0f; x <= 20.0f; x += 2e-4f) {
    const double exact = std::tanh(static_cast<double>(x));
    worst = std::max(worst, std::abs(fast_tanh(x) - exact));
  }
  EXPECT_LT(worst, 2e-7);
}

TEST(FastTanh, FloatSaturatesAndKeepsSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(fast_tanh(inf), 1.0f);
  EXPECT_EQ(fast_tanh(-inf), -1.0f);
  EXPECT_EQ(fast_tanh(50.0f), 1.0f);
  EXPECT_EQ(fast_tanh(-50.0f), -1.0f);
  EXPECT_EQ(fast_tanh(0.0f), 0.0f);
  EXPECT_TRUE(std::isnan(fast_tanh(std::numeric_limits<float>::quiet_NaN())));
}

TEST(FastTanh, DoubleIsStdTanh) {
  for (double x : {-30.0, -1.5, 0.0, 1e-9, 0.75, 30.0}) EXPECT_EQ(fast_tanh(x), std::tanh(x));
}

TEST(FastTanh, FloatGeluAndItsGradientStayWithinAFewE6OfDoubleGelu) {
  // Measured against max(|value|, 1): for x < 0 GELU is 0.5·x·(1 + tanh u) with 1 + tanh u
  // a cancellation in float whichever tanh is used, so only the absolute error is meaningful
  // there; for |value| > 1 this is the relative error.
  std::vector<float> xf;
  for (float x = -10.0f; x <= 10.0f; x += 1e-3f) xf.push_back(x);
  const int64_t n = static_cast<int64_t>(xf.size());
  std::vector<double> xd(xf.begin(), xf.end());
  std::vector<float> yf(n), gf(n, 0.0f), ones_f(n, 1.0f);
  std::vector<double> yd(n), gd(n, 0.0), ones_d(n, 1.0);
  kernels::gelu_forward(yf.data(), xf.data(), n);
  kernels::gelu_forward(yd.data(), xd.data(), n);
  kernels::gelu_backward(gf.data(), xf.data(), ones_f.data(), n);
  kernels::gelu_backward(gd.data(), xd.data(), ones_d.data(), n);
  double worst_y = 0, worst_g = 0;
  for (int64_t i = 0; i < n; ++i) {
    worst_y = std::max(worst_y, std::abs(yf[i] - yd[i]) / std::max(std::abs(yd[i]), 1.0));
    worst_g = std::max(worst_g, std::abs(gf[i] - gd[i]) / std::max(std::abs(gd[i]), 1.0));
  }
  EXPECT_LT(worst_y, 1e-6);
  // The gradient scales tanh's error by 0.5·x·2·tanh·du (≈ 10 near |x| = 3).
  EXPECT_LT(worst_g, 4e-6);
}

}  // namespace
}  // namespace tapelm
