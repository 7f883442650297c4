// Positional encodings (sinusoidal, learned, none/rotary) and the RoPE op.
#include <gtest/gtest.h>

#include <cmath>

#include "gradcheck.h"
#include "module_gradcheck.h"
#include <tapelm/nn/kernels/rope.h>
#include <tapelm/nn/positional.h>
#include <tapelm/nn/rope.h>

namespace tapelm {
namespace {

using testing::expect_gradients_match;
using testing::expect_parameter_gradients_match;
using testing::numerical_gradient;
using testing::random_doubles;
using testing::random_tensor;

TEST(Positional, SinusoidalTableFollowsThePaperFormula) {
  const int64_t dim = 6;
  const Tensor t = sinusoidal_table(5, dim);
  for (int64_t pos = 0; pos < 5; ++pos) {
    for (int64_t i = 0; i < dim / 2; ++i) {
      const double angle = pos / std::pow(10000.0, 2.0 * i / dim);
      EXPECT_NEAR(t.data()[pos * dim + 2 * i], std::sin(angle), 1e-6);
      EXPECT_NEAR(t.data()[pos * dim + 2 * i + 1], std::cos(angle), 1e-6);
    }
  }
}

TEST(Positional, SinusoidalAddsFixedRowsFromStartAndHasNoParameters) {
  Rng rng(1);
  PositionalEncoding pe(PositionalKind::Sinusoidal, 8, 4, rng);
  EXPECT_TRUE(pe.named_parameters().empty());
  EXPECT_EQ(rng.counter(), 0u) << "fixed encodings draw nothing";
  const Tensor table = sinusoidal_table(8, 4);
  const Var x(random_tensor({2, 3, 4}, 2));
  Var y = pe.forward(x, 5);
  ASSERT_EQ(y.shape(), x.shape());
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t t = 0; t < 3; ++t) {
      for (int64_t c = 0; c < 4; ++c) {
        const int64_t i = (b * 3 + t) * 4 + c;
        EXPECT_FLOAT_EQ(y.data()[i], x.data()[i] + table.data()[(5 + t) * 4 + c]);
      }
    }
  }
}

TEST(Positional, LearnedIsAParameterWithFiniteDifferenceGradients) {
  Rng rng(1);
  PositionalEncoding pe(PositionalKind::Learned, 6, 3, rng);
  const auto params = pe.named_parameters();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].first, "weight");
  EXPECT_EQ(params[0].second.shape(), Shape({6, 3}));
  const Var x(random_tensor({2, 4, 3}, 3));
  expect_parameter_gradients_match(pe, [&] { return pe.forward(x, 1); });
}

TEST(Positional, RotaryAndNoneLeaveTheEmbeddingsAlone) {
  Rng rng(1);
  const Var x(random_tensor({1, 2, 4}, 3));
  for (PositionalKind kind : {PositionalKind::Rope, PositionalKind::None}) {
    PositionalEncoding pe(kind, 8, 4, rng);
    EXPECT_TRUE(pe.named_parameters().empty());
    EXPECT_TRUE(pe.forward(x).same(x));
  }
}

TEST(Positional, RejectsPositionsBeyondTheTable) {
  Rng rng(1);
  PositionalEncoding pe(PositionalKind::Learned, 4, 2, rng);
  EXPECT_THROW(pe.forward(Var(Tensor::zeros({1, 5, 2}))), std::invalid_argument);
  EXPECT_THROW(pe.forward(Var(Tensor::zeros({1, 2, 2})), 3), std::invalid_argument);
  EXPECT_NO_THROW(pe.forward(Var(Tensor::zeros({1, 2, 2})), 2));
}

// Rotation angles in double for the kernel check.
void rope_tables(int64_t t_len, int64_t d, std::vector<double>& cos, std::vector<double>& sin) {
  cos.resize(t_len * d / 2);
  sin.resize(t_len * d / 2);
  for (int64_t p = 0; p < t_len; ++p) {
    for (int64_t i = 0; i < d / 2; ++i) {
      const double angle = (p + 0.5) * std::pow(10000.0, -2.0 * i / d);
      cos[p * d / 2 + i] = std::cos(angle);
      sin[p * d / 2 + i] = std::sin(angle);
    }
  }
}

TEST(Rope, KernelGradientMatchesFiniteDifferencesInDouble) {
  const int64_t rows = 6, t_len = 3, d = 4;  // two sequences of three positions
  std::vector<double> cos, sin;
  rope_tables(t_len, d, cos, sin);
  const std::vector<double> x = random_doubles(rows * d, 1);
  const std::vector<double> w = random_doubles(rows * d, 2);
  auto loss = [&](const std::vector<double>& in) {
    std::vector<double> out(in.size());
    kernels::rope_forward(out.data(), in.data(), cos.data(), sin.data(), rows, t_len, d);
    double s = 0;
    for (std::size_t i = 0; i < out.size(); ++i) s += out[i] * w[i];
    return s;
  };
  std::vector<double> analytic(x.size(), 0.0);
  kernels::rope_backward(analytic.data(), w.data(), cos.data(), sin.data(), rows, t_len, d);
  const std::vector<double> numeric = numerical_gradient(loss, x);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(analytic[i], numeric[i], 1e-7) << i;
}

TEST(Rope, OpGradientMatchesFiniteDifferences) {
  const RopeTable table(16, 6);
  expect_gradients_match([&](std::vector<Var>& v) { return rope(v[0], table, 3); }, {random_tensor({2, 2, 4, 6}, 4)});
}

TEST(Rope, PositionZeroIsIdentityAndRotationPreservesNorm) {
  const RopeTable table(8, 4);
  const Var x(random_tensor({1, 1, 3, 4}, 5));
  Var y = rope(x, table);
  for (int64_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y.data()[i], x.data()[i]);
  for (int64_t t = 0; t < 3; ++t) {
    double nx = 0, ny = 0;
    for (int64_t i = 0; i < 4; ++i) {
      nx += double(x.data()[t * 4 + i]) * x.data()[t * 4 + i];
      ny += double(y.data()[t * 4 + i]) * y.data()[t * 4 + i];
    }
    EXPECT_NEAR(nx, ny, 1e-5);
  }
}

TEST(Rope, RotatesPairsIAndIPlusHalfByPositionTimesTheta) {
  const RopeTable table(8, 4, 100.0f);
  const Var x(Tensor::from_vector({1, 1, 4}, {1.0f, 2.0f, 3.0f, 4.0f}));
  Var y = rope(x, table, 5);
  for (int64_t i = 0; i < 2; ++i) {
    const double angle = 5.0 * std::pow(100.0, -2.0 * i / 4);
    const double x1 = x.data()[i], x2 = x.data()[i + 2];
    EXPECT_NEAR(y.data()[i], x1 * std::cos(angle) - x2 * std::sin(angle), 1e-5);
    EXPECT_NEAR(y.data()[i + 2], x2 * std::cos(angle) + x1 * std::sin(angle), 1e-5);
  }
}

TEST(Rope, DotProductDependsOnlyOnTheRelativeOffset) {
  const RopeTable table(32, 8);
  const Var q(random_tensor({1, 1, 8}, 6));
  const Var k(random_tensor({1, 1, 8}, 7));
  auto dot = [&](int64_t pq, int64_t pk) {
    Var a = rope(q, table, pq), b = rope(k, table, pk);
    double s = 0;
    for (int64_t i = 0; i < 8; ++i) s += double(a.data()[i]) * b.data()[i];
    return s;
  };
  EXPECT_NEAR(dot(5, 2), dot(20, 17), 1e-5);
  EXPECT_NEAR(dot(3, 3), dot(11, 11), 1e-5);
  EXPECT_GT(std::abs(dot(5, 2) - dot(5, 4)), 1e-3) << "different offsets must differ";
}

TEST(Rope, RejectsWrongHeadDimAndPositionsBeyondTheTable) {
  const RopeTable table(4, 4);
  EXPECT_THROW(rope(Var(Tensor::zeros({1, 2, 6})), table), std::invalid_argument);
  EXPECT_THROW(rope(Var(Tensor::zeros({1, 3, 4})), table, 2), std::invalid_argument);
  EXPECT_THROW(RopeTable(4, 5), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
