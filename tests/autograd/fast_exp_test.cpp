// The vectorisable exp used by the softmax-based kernels.
#include <tapelm/autograd/kernels/fast_exp.h>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tapelm {
namespace {

using kernels::fast_exp;

TEST(FastExp, FloatIsWithinTwoUlpOfExpOverTheWholeNormalRange) {
  double worst = 0;
  // ~20k points spread geometrically in |x| on both sides of 0, plus the range ends.
  for (float x = -87.0f; x <= 88.0f; x += std::max(1e-4f, std::abs(x) * 1e-3f)) {
    const double exact = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(fast_exp(x) - exact) / exact);
  }
  EXPECT_LT(worst, 2.0 * std::numeric_limits<float>::epsilon() / 2.0);  // 2 ulp of relative spacing
}

TEST(FastExp, FloatHandlesInfinitiesNanAndTheUnderflowAndOverflowEnds) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(fast_exp(-inf), 0.0f);
  EXPECT_EQ(fast_exp(-100.0f), 0.0f);
  EXPECT_EQ(fast_exp(inf), inf);
  EXPECT_EQ(fast_exp(89.0f), inf);
  EXPECT_TRUE(std::isnan(fast_exp(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(fast_exp(0.0f), 1.0f);
}

TEST(FastExp, DoubleIsStdExp) {
  for (double x : {-700.0, -3.5, 0.0, 1e-9, 2.25, 700.0}) EXPECT_EQ(fast_exp(x), std::exp(x));
}

}  // namespace
}  // namespace tapelm
