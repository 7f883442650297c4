// Global gradient norm and clipping.
#include <tapelm/optim/clip.h>

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>

#include "test_params.h"

namespace tapelm {
namespace {

using testing::set_grad;

struct ThreeParams {
  Var a{Tensor::zeros({2}), true};
  Var b{Tensor::zeros({1}), true};
  Var no_grad{Tensor::zeros({3}), true};
  NamedParameters named() const { return {{"a", a}, {"b", b}, {"no_grad", no_grad}}; }
};

TEST(ClipGradNorm, ReportsTheGlobalNormAndLeavesSmallGradientsAlone) {
  ThreeParams p;
  set_grad(p.a, {3.0f, 4.0f});
  set_grad(p.b, {12.0f});
  EXPECT_DOUBLE_EQ(grad_norm(p.named()), 13.0);
  EXPECT_DOUBLE_EQ(clip_grad_norm(p.named(), 26.0), 13.0);
  EXPECT_EQ(p.a.grad().to_vector(), (std::vector<float>{3.0f, 4.0f}));
  EXPECT_EQ(p.b.grad().to_vector(), (std::vector<float>{12.0f}));
  EXPECT_FALSE(p.no_grad.has_grad());
}

TEST(ClipGradNorm, ScalesGradientsDownToTheMaxNorm) {
  ThreeParams p;
  set_grad(p.a, {3.0f, 4.0f});
  set_grad(p.b, {12.0f});
  EXPECT_DOUBLE_EQ(clip_grad_norm(p.named(), 6.5), 13.0);  // the norm before clipping
  EXPECT_NEAR(grad_norm(p.named()), 6.5, 6.5 * 1e-6);
  const double scale = 6.5 / (13.0 + 1e-6);  // torch's coefficient
  EXPECT_FLOAT_EQ(p.a.grad().data()[0], float(3.0 * scale));
  EXPECT_FLOAT_EQ(p.a.grad().data()[1], float(4.0 * scale));
  EXPECT_FLOAT_EQ(p.b.grad().data()[0], float(12.0 * scale));
}

TEST(ClipGradNorm, NonFiniteNormIsReportedAndGradientsAreLeftAlone) {
  for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    ThreeParams p;
    set_grad(p.a, {bad, 4.0f});
    set_grad(p.b, {12.0f});
    EXPECT_FALSE(std::isfinite(clip_grad_norm(p.named(), 1.0)));
    EXPECT_EQ(p.a.grad().data()[1], 4.0f);
    EXPECT_EQ(p.b.grad().data()[0], 12.0f);
  }
}

TEST(ClipGradNorm, RejectsNonPositiveMaxNorm) {
  ThreeParams p;
  EXPECT_THROW(clip_grad_norm(p.named(), 0.0), std::invalid_argument);
  EXPECT_THROW(clip_grad_norm(p.named(), -1.0), std::invalid_argument);
}

TEST(ClipGradNorm, NormOverManyChunksIsBitwiseIdenticalForOneAndTwoThreads) {
  Var big(Tensor::zeros({300001}), true);
  Var small(Tensor::zeros({7}), true);
  Tensor& g = big.ensure_grad();
  double expected = 0;
  for (int64_t i = 0; i < g.numel(); ++i) {
    g.data()[i] = std::sin(0.37f * i);
    expected += double(g.data()[i]) * g.data()[i];
  }
  set_grad(small, std::vector<float>(7, 2.0f));
  expected = std::sqrt(expected + 28.0);
  const NamedParameters params = {{"big", big}, {"small", small}};
  const int previous = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = grad_norm(params);
  omp_set_num_threads(2);
  const double two = grad_norm(params);
  omp_set_num_threads(previous);
  EXPECT_EQ(one, two);
  EXPECT_NEAR(one, expected, 1e-9 * expected);
}

}  // namespace
}  // namespace tapelm
