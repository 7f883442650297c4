// The public gradcheck (autograd/gradcheck.h) on an op defined here with record_op: it passes
// the right backward and names what is wrong with a wrong one, for inputs and for parameters.
#include <tapelm/autograd/gradcheck.h>

#include <gtest/gtest.h>

#include <cmath>

#include <tapelm/autograd/record.h>

namespace tapelm {
namespace {

// x³ with a backward of factor · 3x² (factor 1 is the right one).
Var cube(const Var& x, float factor) {
  Var out{Tensor(x.shape())};
  for (int64_t i = 0; i < x.numel(); ++i) out.data()[i] = x.data()[i] * x.data()[i] * x.data()[i];
  record_op("cube", out, {&x}, [x, factor](const Tensor& dout) {
    float* dx = x.ensure_grad().data();
    for (int64_t i = 0; i < x.numel(); ++i) dx[i] += factor * 3.0f * x.data()[i] * x.data()[i] * dout.data()[i];
  });
  return out;
}

TEST(Gradcheck, PassesAnOpWhoseBackwardIsItsDerivative) {
  const GradcheckResult result =
      gradcheck([](std::vector<Var>& v) { return cube(v[0], 1.0f); }, {random_tensor({3, 4}, 7)});
  EXPECT_TRUE(result.passed()) << result.summary();
  EXPECT_LT(result.max_error, 5e-3);
}

TEST(Gradcheck, NamesEveryElementOfABackwardOffByAFactor) {
  const GradcheckResult result =
      gradcheck([](std::vector<Var>& v) { return cube(v[0], 1.5f); }, {random_tensor({3, 4}, 7, 2.0f)});
  EXPECT_FALSE(result.passed());
  EXPECT_TRUE(result.error.empty());
  EXPECT_GT(result.max_error, 0.1);
  EXPECT_GE(result.mismatches.size(), 6u);
  EXPECT_NE(result.summary().find("input 0 element"), std::string::npos) << result.summary();
}

TEST(Gradcheck, ReportsAnInputTheBackwardLeftWithoutAGradient) {
  const GradcheckResult result =
      gradcheck([](std::vector<Var>& v) { return cube(v[0], 1.0f); }, {random_tensor({2}, 1), random_tensor({2}, 2)});
  EXPECT_FALSE(result.passed());
  EXPECT_EQ(result.error, "gradcheck: input 1 received no gradient");
}

TEST(Gradcheck, ChecksParametersInPlaceAndLeavesThemAsTheyWere) {
  const Tensor start = random_tensor({5}, 3);
  const std::vector<std::pair<std::string, Var>> params = {{"w", Var(start.clone(), true)}};
  const Var& w = params[0].second;
  const GradcheckResult right = gradcheck_parameters(params, [&] { return cube(w, 1.0f); });
  EXPECT_TRUE(right.passed()) << right.summary();
  const GradcheckResult wrong = gradcheck_parameters(params, [&] { return cube(w, 0.5f); });
  ASSERT_FALSE(wrong.passed());
  EXPECT_EQ(wrong.mismatches[0].input, 0u);
  EXPECT_EQ(w.value().to_vector(), start.to_vector());
  EXPECT_FALSE(w.has_grad());
}

TEST(Gradcheck, NumericalGradientOfAQuadraticIsLinear) {
  const std::vector<double> g =
      numerical_gradient([](const std::vector<double>& x) { return x[0] * x[0] + 3.0 * x[1]; }, {2.0, -1.0});
  EXPECT_NEAR(g[0], 4.0, 1e-7);
  EXPECT_NEAR(g[1], 3.0, 1e-7);
}

}  // namespace
}  // namespace tapelm
