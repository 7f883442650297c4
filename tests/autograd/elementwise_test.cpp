// Elementwise ops: broadcasting forward against a naive reference, gradients by finite
// differences (float op level, double kernel level), hand values and shape errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include <tapelm/autograd/kernels/broadcast.h>
#include <tapelm/autograd/kernels/elementwise.h>
#include "gradcheck.h"

namespace tapelm {
namespace {

using ::testing::HasSubstr;
using testing::expect_gradients_match;
using testing::numerical_gradient;
using testing::random_doubles;
using testing::random_tensor;

// Values in [0.5, ∞): safe for log, sqrt, pow and as divisors.
Tensor positive_tensor(const Shape& shape, uint64_t seed) {
  Tensor t = random_tensor(shape, seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 0.5f + std::abs(t.data()[i]);
  return t;
}

// Flat index into a (right-aligned, broadcast) operand of the element at `out_index`.
int64_t broadcast_index(const Shape& out, const Shape& operand, int64_t out_index) {
  int64_t index = 0, stride = 1;
  for (int64_t i = static_cast<int64_t>(out.size()) - 1, j = static_cast<int64_t>(operand.size()) - 1; i >= 0;
       --i, --j) {
    const int64_t coord = out_index % out[i];
    out_index /= out[i];
    if (j < 0) continue;
    if (operand[j] != 1) index += coord * stride;
    stride *= operand[j];
  }
  return index;
}

const std::vector<std::pair<Shape, Shape>>& broadcast_cases() {
  static const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 4}, {3, 4}},          // same shape
      {{2, 3, 4}, {4}},          // row vector over leading dims (bias)
      {{4}, {2, 3, 4}},          // ... on the left operand
      {{2, 3, 1}, {2, 3, 4}},    // per-row scale
      {{3, 1, 5}, {4, 1}},       // both sides broadcast
      {{2, 1, 4}, {2, 3, 1}},    // size-1 dims on both sides
      {{}, {3, 4}},              // scalar
      {{1}, {}},                 // rank-1 against a scalar
      {{2, 1, 3, 1}, {1, 4, 1, 5}},
      {{1, 1, 3, 3}, {2, 2, 3, 3}},  // a mask over [B, H, T, T]
  };
  return cases;
}

TEST(Broadcast, ShapeAlignsOnTheRightAndExpandsSizeOneDims) {
  EXPECT_EQ(broadcast_shape({2, 3, 4}, {4}, "add"), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shape({3, 1, 5}, {4, 1}, "add"), (Shape{3, 4, 5}));
  EXPECT_EQ(broadcast_shape({}, {2, 2}, "add"), (Shape{2, 2}));
  EXPECT_EQ(broadcast_shape({1, 0}, {3, 1}, "add"), (Shape{3, 0}));
}

TEST(Broadcast, ArithmeticMatchesANaiveReference) {
  for (const auto& [sa, sb] : broadcast_cases()) {
    const Tensor a = random_tensor(sa, 1), b = positive_tensor(sb, 2);
    const Shape so = broadcast_shape(sa, sb, "test");
    const Var va(a), vb(b);
    const Tensor sum = add(va, vb).value(), diff = sub(va, vb).value();
    const Tensor prod = mul(va, vb).value(), quot = div(va, vb).value();
    ASSERT_EQ(sum.shape(), so);
    for (int64_t i = 0; i < shape_numel(so); ++i) {
      const float x = a.data()[broadcast_index(so, sa, i)], y = b.data()[broadcast_index(so, sb, i)];
      EXPECT_EQ(sum.data()[i], x + y) << shape_str(sa) << " " << shape_str(sb) << " at " << i;
      EXPECT_EQ(diff.data()[i], x - y);
      EXPECT_EQ(prod.data()[i], x * y);
      EXPECT_EQ(quot.data()[i], x / y);
    }
  }
}

TEST(Broadcast, LargeBiasAndRowScaleMatchANaiveReferenceOnTheParallelPath) {
  // Sizes above the parallel threshold, so the chunked row walk is exercised.
  const Shape big = {4, 96, 130};
  for (const Shape& small : {Shape{130}, Shape{4, 96, 1}, Shape{1, 96, 1}, Shape{}}) {
    const Tensor a = random_tensor(big, 3), b = random_tensor(small, 4);
    const Tensor prod = mul(Var(a), Var(b)).value();
    for (int64_t i = 0; i < a.numel(); ++i) {
      ASSERT_EQ(prod.data()[i], a.data()[i] * b.data()[broadcast_index(big, small, i)]) << shape_str(small);
    }
  }
}

TEST(Broadcast, SumToMatchesANaiveReduction) {
  const Shape big = {4, 96, 130};
  for (const Shape& small : {Shape{130}, Shape{4, 96, 1}, Shape{4, 1, 130}, Shape{1, 96, 1}, Shape{}}) {
    const Tensor src = random_tensor(big, 5);
    std::vector<double> expect(static_cast<std::size_t>(shape_numel(small)), 0.0);
    for (int64_t i = 0; i < src.numel(); ++i) expect[broadcast_index(big, small, i)] += src.data()[i];
    Tensor target = Tensor::full(small, 1.0f);
    kernels::sum_to(target.data(), src.data(), 2.0f, kernels::make_broadcast_plan(big, {&small}));
    for (std::size_t i = 0; i < expect.size(); ++i) {
      EXPECT_NEAR(target.data()[i], 1.0 + 2.0 * expect[i], 1e-3) << shape_str(small) << " at " << i;
    }
  }
}

TEST(Broadcast, BinaryGradientsMatchFiniteDifferences) {
  for (const auto& [sa, sb] : broadcast_cases()) {
    SCOPED_TRACE(shape_str(sa) + " with " + shape_str(sb));
    const Tensor a = random_tensor(sa, 11), b = positive_tensor(sb, 12);
    expect_gradients_match([](std::vector<Var>& v) { return add(v[0], v[1]); }, {a, b});
    expect_gradients_match([](std::vector<Var>& v) { return sub(v[0], v[1]); }, {a, b});
    expect_gradients_match([](std::vector<Var>& v) { return mul(v[0], v[1]); }, {a, b});
    expect_gradients_match([](std::vector<Var>& v) { return div(v[0], v[1]); }, {a, b});
  }
}

TEST(Broadcast, OperandUsedOnBothSidesGetsBothGradients) {
  const Tensor a = positive_tensor({3, 4}, 13);
  expect_gradients_match([](std::vector<Var>& v) { return mul(v[0], v[0]); }, {a});
  expect_gradients_match([](std::vector<Var>& v) { return div(v[0], v[0] + 1.0f); }, {a});
}

TEST(Broadcast, MulKernelGradientMatchesFiniteDifferencesInDouble) {
  // L = Σ w ⊙ (x ⊙ y) with x [3, 1, 4] and y [2, 1] broadcast to [3, 2, 4]; the analytic
  // gradient is the kernels' own backward: sum_to(w ⊙ y) and sum_to(w ⊙ x).
  const Shape sx = {3, 1, 4}, sy = {2, 1}, so = {3, 2, 4};
  const std::vector<double> x = random_doubles(12, 1), y = random_doubles(2, 2), w = random_doubles(24, 3);
  const kernels::BroadcastPlan plan = kernels::make_broadcast_plan(so, {&sx, &sy});
  auto times = [](double p, double q) { return p * q; };
  auto loss_x = [&](const std::vector<double>& xv) {
    std::vector<double> out(24);
    kernels::broadcast_apply<false>(out.data(), xv.data(), y.data(), plan, times);
    double s = 0;
    for (int i = 0; i < 24; ++i) s += out[i] * w[i];
    return s;
  };
  auto loss_y = [&](const std::vector<double>& yv) {
    std::vector<double> out(24);
    kernels::broadcast_apply<false>(out.data(), x.data(), yv.data(), plan, times);
    double s = 0;
    for (int i = 0; i < 24; ++i) s += out[i] * w[i];
    return s;
  };
  const kernels::BroadcastPlan wy = kernels::make_broadcast_plan(so, {&so, &sy});
  const kernels::BroadcastPlan wx = kernels::make_broadcast_plan(so, {&so, &sx});
  std::vector<double> full(24), dx(12, 0.0), dy(2, 0.0);
  kernels::broadcast_apply<false>(full.data(), w.data(), y.data(), wy, times);
  kernels::sum_to(dx.data(), full.data(), 1.0, kernels::make_broadcast_plan(so, {&sx}));
  kernels::broadcast_apply<false>(full.data(), w.data(), x.data(), wx, times);
  kernels::sum_to(dy.data(), full.data(), 1.0, kernels::make_broadcast_plan(so, {&sy}));
  const std::vector<double> nx = numerical_gradient(loss_x, x), ny = numerical_gradient(loss_y, y);
  for (int i = 0; i < 12; ++i) EXPECT_NEAR(dx[i], nx[i], 1e-7) << i;
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(dy[i], ny[i], 1e-7) << i;
}

TEST(Broadcast, HandWorkedValues) {
  const Var a(Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}));
  const Var b(Tensor::from_vector({3}, {10, 20, 30}));
  EXPECT_EQ(add(a, b).value().to_vector(), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  const Var c(Tensor::from_vector({2, 1}, {2, 4}));
  EXPECT_EQ(div(a, c).value().to_vector(), (std::vector<float>{0.5f, 1, 1.5f, 1, 1.25f, 1.5f}));
  EXPECT_EQ(sub(c, b).value().shape(), (Shape{2, 3}));
  EXPECT_EQ(sub(c, b).value().to_vector(), (std::vector<float>{-8, -18, -28, -6, -16, -26}));
}

TEST(Broadcast, IncompatibleShapesThrowNamingTheOpAndShapes) {
  const Var a(Tensor::zeros({2, 3})), b(Tensor::zeros({4}));
  try {
    mul(a, b);
    FAIL() << "mul of [2, 3] and [4] did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("mul"));
    EXPECT_THAT(e.what(), HasSubstr("[2, 3]"));
    EXPECT_THAT(e.what(), HasSubstr("[4]"));
  }
  EXPECT_THROW(add(Var(Tensor::zeros({2, 3, 4})), Var(Tensor::zeros({3, 3, 4}))), std::invalid_argument);
  EXPECT_THROW(div(a, Var()), std::invalid_argument);
}

TEST(Unary, OpGradientsMatchFiniteDifferences) {
  const Tensor x = random_tensor({3, 4, 5}, 21);
  const Tensor p = positive_tensor({3, 4, 5}, 22);
  expect_gradients_match([](std::vector<Var>& v) { return exp(v[0]); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return tanh(v[0]); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return neg(v[0]); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return v[0] * 2.5f; }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return v[0] - 1.5f; }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return log(v[0]); }, {p});
  expect_gradients_match([](std::vector<Var>& v) { return sqrt(v[0]); }, {p});
  expect_gradients_match([](std::vector<Var>& v) { return pow(v[0], 2.5f); }, {p});
  expect_gradients_match([](std::vector<Var>& v) { return pow(v[0], -1.0f); }, {p});
  expect_gradients_match([](std::vector<Var>& v) { return pow(v[0], 2.0f); }, {x});
}

using KernelForward = std::function<void(double*, const double*, int64_t)>;
using KernelBackward = std::function<void(double*, const double*, const double*, const double*, int64_t)>;

void expect_kernel_gradient(const KernelForward& forward, const KernelBackward& backward, bool positive) {
  const std::size_t n = 23;
  std::vector<double> x = random_doubles(n, 31);
  if (positive) for (double& v : x) v = 0.5 + std::abs(v);
  const std::vector<double> w = random_doubles(n, 32);
  auto loss = [&](const std::vector<double>& in) {
    std::vector<double> out(n);
    forward(out.data(), in.data(), static_cast<int64_t>(n));
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += out[i] * w[i];
    return s;
  };
  std::vector<double> out(n), analytic(n, 0.0);
  forward(out.data(), x.data(), static_cast<int64_t>(n));
  backward(analytic.data(), x.data(), out.data(), w.data(), static_cast<int64_t>(n));
  const std::vector<double> numeric = numerical_gradient(loss, x);
  for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(analytic[i], numeric[i], 1e-7) << i;
}

TEST(Unary, KernelGradientsMatchFiniteDifferencesInDouble) {
  expect_kernel_gradient(kernels::exp_forward<double>, kernels::exp_backward<double>, false);
  expect_kernel_gradient(kernels::tanh_forward<double>, kernels::tanh_backward<double>, false);
  expect_kernel_gradient(kernels::log_forward<double>, kernels::log_backward<double>, true);
  expect_kernel_gradient(kernels::sqrt_forward<double>, kernels::sqrt_backward<double>, true);
  expect_kernel_gradient([](double* o, const double* i, int64_t n) { kernels::pow_forward(o, i, n, 1.7); },
                         [](double* d, const double* i, const double* o, const double* g, int64_t n) {
                           kernels::pow_backward(d, i, o, g, n, 1.7);
                         },
                         true);
  expect_kernel_gradient([](double* o, const double* i, int64_t n) { kernels::scale_forward(o, i, n, -3.0); },
                         [](double* d, const double* i, const double* o, const double* g, int64_t n) {
                           kernels::scale_backward(d, i, o, g, n, -3.0);
                         },
                         false);
  expect_kernel_gradient([](double* o, const double* i, int64_t n) { kernels::shift_forward(o, i, n, 0.3); },
                         kernels::shift_backward<double>, false);
}

TEST(Unary, HandWorkedValues) {
  const Var x(Tensor::from_vector({3}, {1.0f, 4.0f, 9.0f}));
  EXPECT_EQ(sqrt(x).value().to_vector(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(pow(x, 0.5f).value().to_vector(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ((x * 2.0f - 1.0f).value().to_vector(), (std::vector<float>{1, 7, 17}));
  EXPECT_NEAR(log(x).value().data()[1], std::log(4.0f), 1e-7);
  EXPECT_NEAR(exp(x).value().data()[0], std::exp(1.0f), 1e-6);
  EXPECT_NEAR(tanh(x).value().data()[0], std::tanh(1.0f), 1e-7);
}

}  // namespace
}  // namespace tapelm
