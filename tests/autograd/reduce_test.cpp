// Reductions and softmax: hand values, finite-difference gradients (float ops, double
// softmax kernels), numerical stability and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <tapelm/autograd/kernels/softmax.h>
#include "gradcheck.h"

namespace tapelm {
namespace {

using ::testing::HasSubstr;
using testing::expect_gradients_match;
using testing::numerical_gradient;
using testing::random_doubles;
using testing::random_tensor;

TEST(Sum, OverEachAxisWithAndWithoutKeepdim) {
  const Var x(Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(sum(x, 0).value().to_vector(), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(sum(x, 0).value().shape(), (Shape{3}));
  EXPECT_EQ(sum(x, 1, true).value().shape(), (Shape{2, 1}));
  EXPECT_EQ(sum(x, -1).value().to_vector(), (std::vector<float>{6, 15}));
  EXPECT_EQ(mean(x, 1).value().to_vector(), (std::vector<float>{2, 5}));
  EXPECT_EQ(max(x, 0).value().to_vector(), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(sum_all(x).value().shape(), Shape{});
  EXPECT_EQ(sum_all(x).item(), 21.0f);
  EXPECT_EQ(mean_all(x).item(), 3.5f);
}

TEST(Sum, GradientsMatchFiniteDifferencesOverEveryAxis) {
  const Tensor x = random_tensor({3, 4, 5}, 1);
  for (int64_t dim = 0; dim < 3; ++dim) {
    for (bool keep : {false, true}) {
      SCOPED_TRACE("dim " + std::to_string(dim) + " keepdim " + std::to_string(keep));
      expect_gradients_match([=](std::vector<Var>& v) { return sum(v[0], dim, keep); }, {x});
      expect_gradients_match([=](std::vector<Var>& v) { return mean(v[0], dim, keep); }, {x});
    }
  }
  expect_gradients_match([](std::vector<Var>& v) { return sum_all(v[0]); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return mean_all(v[0]); }, {x});
}

TEST(Sum, LargeReductionsMatchADoubleReference) {
  const Tensor x = random_tensor({70, 40, 50}, 2);
  const Var v(x);
  for (int64_t dim = 0; dim < 3; ++dim) {
    const Tensor s = sum(v, dim).value();
    const int64_t d1 = x.size(1), d2 = x.size(2);
    for (int64_t i = 0; i < s.numel(); i += 7) {
      double expect = 0;
      for (int64_t k = 0; k < x.size(dim); ++k) {
        const int64_t a = dim == 0 ? k : (dim == 1 ? i / d2 : i / d1);
        const int64_t b = dim == 1 ? k : (dim == 0 ? i / d2 : i % d1);
        const int64_t c = dim == 2 ? k : i % d2;
        expect += x.data()[(a * d1 + b) * d2 + c];
      }
      EXPECT_NEAR(s.data()[i], expect, 1e-3) << "dim " << dim << " at " << i;
    }
  }
  double total = 0;
  for (int64_t i = 0; i < x.numel(); ++i) total += x.data()[i];
  EXPECT_NEAR(sum_all(v).item(), total, 1e-2);
}

// Distinct values 0.1 apart, shuffled: finite-difference steps never change the argmax.
Tensor spaced_tensor(const Shape& shape, uint64_t seed) {
  Tensor t = random_tensor(shape, seed);
  std::vector<std::pair<float, int64_t>> order;
  for (int64_t i = 0; i < t.numel(); ++i) order.emplace_back(t.data()[i], i);
  std::sort(order.begin(), order.end());
  for (std::size_t r = 0; r < order.size(); ++r) t.data()[order[r].second] = 0.1f * static_cast<float>(r);
  return t;
}

TEST(Max, GradientsMatchFiniteDifferencesOverEveryAxis) {
  const Tensor x = spaced_tensor({3, 4, 5}, 3);
  for (int64_t dim = 0; dim < 3; ++dim) {
    for (bool keep : {false, true}) {
      SCOPED_TRACE("dim " + std::to_string(dim) + " keepdim " + std::to_string(keep));
      expect_gradients_match([=](std::vector<Var>& v) { return max(v[0], dim, keep); }, {x});
    }
  }
}

TEST(Max, TiesSendTheGradientToTheFirstMaximum) {
  Var x(Tensor::from_vector({2, 3}, {1, 7, 7, 5, 5, 2}), true);
  Var loss = sum_all(max(x, 1));
  backward(loss);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{0, 1, 0, 1, 0, 0}));
}

TEST(Reduce, RejectsBadAxesAndEmptyDimensions) {
  const Var x(Tensor::zeros({2, 3}));
  try {
    sum(x, 2);
    FAIL() << "sum over axis 2 of a rank-2 tensor did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("sum"));
    EXPECT_THAT(e.what(), HasSubstr("axis 2"));
  }
  EXPECT_THROW(max(Var(Tensor::zeros({2, 0})), 1), std::invalid_argument);
  EXPECT_THROW(mean_all(Var(Tensor::zeros({0}))), std::invalid_argument);
  try {
    softmax(Var(Tensor::zeros({3, 0})));
    FAIL() << "softmax of [3, 0] did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("softmax"));
    EXPECT_THAT(e.what(), HasSubstr("[3, 0]"));
  }
}

TEST(Softmax, OfOneTwoThreeMatchesHandValues) {
  const Var x(Tensor::from_vector({3}, {1, 2, 3}));
  const std::vector<float> p = softmax(x).value().to_vector();
  EXPECT_NEAR(p[0], 0.09003057f, 1e-7);
  EXPECT_NEAR(p[1], 0.24472847f, 1e-7);
  EXPECT_NEAR(p[2], 0.66524096f, 1e-7);
  const std::vector<float> lp = log_softmax(x).value().to_vector();
  EXPECT_NEAR(lp[0], -2.40760596f, 1e-6);
  EXPECT_NEAR(lp[2], -0.40760596f, 1e-6);
}

TEST(Softmax, IsStableForLargeLogits) {
  const Var big(Tensor::from_vector({2, 3}, {1001, 1002, 1003, -1001, -1002, -1003}));
  const std::vector<float> p = softmax(big).value().to_vector();
  EXPECT_NEAR(p[2], 0.66524096f, 1e-6);
  EXPECT_NEAR(p[3], 0.66524096f, 1e-6);
  // x − logsumexp(x) subtracts numbers near 1000, where float spacing is 6e-5.
  const std::vector<float> lp = log_softmax(big).value().to_vector();
  EXPECT_NEAR(lp[0], -2.40760596f, 1.5e-4);
  for (float v : lp) EXPECT_TRUE(std::isfinite(v));
}

TEST(Softmax, MaskedEntriesGetExactlyZeroAndFullyMaskedRowsAreAllZeros) {
  std::vector<float> row = {0.0f, -INFINITY, 1.0f};
  kernels::softmax_row(row.data(), row.data(), 3);
  EXPECT_EQ(row[1], 0.0f);
  EXPECT_NEAR(row[0], 0.26894142f, 1e-7);
  std::vector<float> masked = {-INFINITY, -INFINITY, -INFINITY};
  kernels::softmax_row(masked.data(), masked.data(), 3);
  EXPECT_EQ(masked, (std::vector<float>{0, 0, 0}));
}

TEST(RowReduce, LaneSumsMatchAPlainSumForEveryTailLength) {
  for (int64_t n = 0; n < 40; ++n) {
    const std::vector<double> x = random_doubles(static_cast<std::size_t>(n), 7 + n);
    const std::vector<double> y = random_doubles(static_cast<std::size_t>(n), 100 + n);
    double sum = 0, dot = 0, mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
      sum += x[i];
      dot += x[i] * y[i];
      mx = std::max(mx, x[i]);
    }
    EXPECT_NEAR(kernels::row_sum(x.data(), n), sum, 1e-12) << n;
    EXPECT_NEAR(kernels::row_dot(x.data(), y.data(), n), dot, 1e-12) << n;
    EXPECT_EQ(kernels::row_max(x.data(), n), mx) << n;
  }
}

TEST(Softmax, OpGradientsMatchFiniteDifferences) {
  const Tensor x = random_tensor({2, 3, 7}, 4, 2.0f);
  expect_gradients_match([](std::vector<Var>& v) { return softmax(v[0]); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return log_softmax(v[0]); }, {x});
}

using RowsForward = void (*)(double*, const double*, int64_t, int64_t);
using RowsBackward = void (*)(double*, const double*, const double*, int64_t, int64_t);

void expect_kernel_gradient(RowsForward forward, RowsBackward backward) {
  const int64_t rows = 3, n = 6;
  const std::vector<double> x = random_doubles(rows * n, 5, 2.0), w = random_doubles(rows * n, 6);
  auto loss = [&](const std::vector<double>& in) {
    std::vector<double> out(rows * n);
    forward(out.data(), in.data(), rows, n);
    double s = 0;
    for (int64_t i = 0; i < rows * n; ++i) s += out[i] * w[i];
    return s;
  };
  std::vector<double> out(rows * n), analytic(rows * n, 0.0);
  forward(out.data(), x.data(), rows, n);
  backward(analytic.data(), out.data(), w.data(), rows, n);
  const std::vector<double> numeric = numerical_gradient(loss, x);
  for (int64_t i = 0; i < rows * n; ++i) EXPECT_NEAR(analytic[i], numeric[i], 1e-7) << i;
}

TEST(Softmax, KernelGradientsMatchFiniteDifferencesInDouble) {
  expect_kernel_gradient(kernels::softmax_forward<double>, kernels::softmax_backward<double>);
  expect_kernel_gradient(kernels::log_softmax_forward<double>, kernels::log_softmax_backward<double>);
}

TEST(Softmax, RowKernelReturnsTheLogPartition) {
  const std::vector<double> x = {0.5, -1.0, 2.0, 0.0};
  std::vector<double> p(4);
  const double lse = kernels::softmax_row(p.data(), x.data(), 4);
  const double expect = std::log(std::exp(0.5) + std::exp(-1.0) + std::exp(2.0) + 1.0);
  EXPECT_NEAR(lse, expect, 1e-12);
  EXPECT_NEAR(kernels::log_sum_exp_row(x.data(), 4), expect, 1e-12);
  EXPECT_NEAR(p[2], std::exp(2.0 - expect), 1e-12);
}

}  // namespace
}  // namespace tapelm
