// Layer norm and RMS norm: kernel gradients in double, op gradients in float, behaviour.
#include <tapelm/autograd/kernels/norm.h>

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "gradcheck.h"

namespace tapelm {
namespace {

using testing::expect_gradients_match;
using testing::numerical_gradient;
using testing::random_doubles;
using testing::random_tensor;

constexpr int64_t N = 3;
constexpr int64_t C = 7;
// Backward kernels accumulate: gradients start here and the check subtracts it again.
constexpr double kPrior = 0.25;

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

void expect_near_after_prior(const std::vector<double>& analytic, const std::vector<double>& numeric,
                             const char* what) {
  ASSERT_EQ(analytic.size(), numeric.size());
  for (std::size_t i = 0; i < analytic.size(); ++i)
    EXPECT_NEAR(analytic[i] - kPrior, numeric[i], 1e-7) << what << " " << i;
}

TEST(Norm, LayernormKernelGradientsMatchFiniteDifferencesInDouble) {
  const std::vector<double> x = random_doubles(N * C, 1, 2.0);
  const std::vector<double> w = random_doubles(C, 2);
  const std::vector<double> b = random_doubles(C, 3);
  const std::vector<double> r = random_doubles(N * C, 4);  // loss = Σ out ⊙ r
  const double eps = 1e-5;
  auto loss = [&](const std::vector<double>& xx, const std::vector<double>& ww, const std::vector<double>& bb) {
    std::vector<double> out(N * C), mean(N), rstd(N);
    kernels::layernorm_forward(out.data(), mean.data(), rstd.data(), xx.data(), ww.data(), bb.data(), N, C, eps);
    return dot(out, r);
  };
  std::vector<double> out(N * C), mean(N), rstd(N);
  kernels::layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C, eps);
  std::vector<double> dx(N * C, kPrior), dw(C, kPrior), db(C, kPrior);
  kernels::layernorm_backward(dx.data(), dw.data(), db.data(), r.data(), x.data(), w.data(), mean.data(), rstd.data(),
                              N, C);
  expect_near_after_prior(dx, numerical_gradient([&](const auto& v) { return loss(v, w, b); }, x), "dx");
  expect_near_after_prior(dw, numerical_gradient([&](const auto& v) { return loss(x, v, b); }, w), "dweight");
  expect_near_after_prior(db, numerical_gradient([&](const auto& v) { return loss(x, w, v); }, b), "dbias");
}

TEST(Norm, RmsnormKernelGradientsMatchFiniteDifferencesInDouble) {
  const std::vector<double> x = random_doubles(N * C, 5, 2.0);
  const std::vector<double> w = random_doubles(C, 6);
  const std::vector<double> r = random_doubles(N * C, 7);
  const double eps = 1e-6;
  auto loss = [&](const std::vector<double>& xx, const std::vector<double>& ww) {
    std::vector<double> out(N * C), rstd(N);
    kernels::rmsnorm_forward(out.data(), rstd.data(), xx.data(), ww.data(), N, C, eps);
    return dot(out, r);
  };
  std::vector<double> out(N * C), rstd(N);
  kernels::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, eps);
  std::vector<double> dx(N * C, kPrior), dw(C, kPrior);
  kernels::rmsnorm_backward(dx.data(), dw.data(), r.data(), x.data(), w.data(), rstd.data(), N, C);
  expect_near_after_prior(dx, numerical_gradient([&](const auto& v) { return loss(v, w); }, x), "dx");
  expect_near_after_prior(dw, numerical_gradient([&](const auto& v) { return loss(x, v); }, w), "dweight");
}

TEST(Norm, OpGradientsMatchFiniteDifferences) {
  const Tensor x = random_tensor({2, 3, 8}, 11);
  const Tensor w = random_tensor({8}, 12);
  const Tensor b = random_tensor({8}, 13);
  expect_gradients_match([](std::vector<Var>& v) { return layernorm(v[0], v[1], v[2]); }, {x, w, b});
  expect_gradients_match([](std::vector<Var>& v) { return layernorm(v[0], v[1], Var()); }, {x, w});
  expect_gradients_match([](std::vector<Var>& v) { return rmsnorm(v[0], v[1]); }, {x, w});
}

TEST(Norm, LayernormMatchesTheDefinition) {
  const Tensor x = random_tensor({4, 16}, 21, 3.0f);
  const Tensor w = random_tensor({16}, 22);
  const Tensor b = random_tensor({16}, 23);
  const Var y = layernorm(Var(x), Var(w), Var(b), 1e-5f);
  for (int64_t n = 0; n < 4; ++n) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < 16; ++c) mean += x.data()[n * 16 + c];
    mean /= 16;
    for (int64_t c = 0; c < 16; ++c) var += std::pow(x.data()[n * 16 + c] - mean, 2);
    var /= 16;  // biased, as in PyTorch
    for (int64_t c = 0; c < 16; ++c) {
      const double expected = (x.data()[n * 16 + c] - mean) / std::sqrt(var + 1e-5) * w.data()[c] + b.data()[c];
      EXPECT_NEAR(y.data()[n * 16 + c], expected, 1e-5) << n << "," << c;
    }
  }
}

TEST(Norm, RmsnormMatchesTheDefinition) {
  const Tensor x = random_tensor({3, 10}, 31, 2.0f);
  const Tensor w = random_tensor({10}, 32);
  const Var y = rmsnorm(Var(x), Var(w), 1e-6f);
  for (int64_t n = 0; n < 3; ++n) {
    double ms = 0;
    for (int64_t c = 0; c < 10; ++c) ms += std::pow(x.data()[n * 10 + c], 2);
    ms /= 10;
    for (int64_t c = 0; c < 10; ++c) {
      EXPECT_NEAR(y.data()[n * 10 + c], x.data()[n * 10 + c] / std::sqrt(ms + 1e-6) * w.data()[c], 1e-5);
    }
  }
}

// Gradients of a layernorm large enough to run in parallel, with the given thread count.
std::vector<std::vector<float>> layernorm_grads(int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  Var x(random_tensor({256, 96}, 41), true);
  Var w(random_tensor({96}, 42), true);
  Var b(random_tensor({96}, 43), true);
  Var loss = sum_all(mul(layernorm(x, w, b), Var(random_tensor({256, 96}, 44))));
  backward(loss);
  omp_set_num_threads(saved);
  return {x.grad().to_vector(), w.grad().to_vector(), b.grad().to_vector()};
}

TEST(Norm, GradientsAreBitwiseIndependentOfThreadCount) { EXPECT_EQ(layernorm_grads(1), layernorm_grads(2)); }

TEST(Norm, ShapeErrorsNameTheOpAndShapes) {
  const Var x(Tensor::zeros({2, 5}));
  try {
    layernorm(x, Var(Tensor::zeros({4})), Var(Tensor::zeros({5})));
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("layernorm: weight has shape [4], expected [5]"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(layernorm(x, Var(Tensor::zeros({5})), Var(Tensor::zeros({2, 5}))), std::invalid_argument);
  EXPECT_THROW(layernorm(Var(Tensor::scalar(1.0f)), Var(Tensor::zeros({1})), Var()), std::invalid_argument);
  try {
    rmsnorm(x, Var(Tensor::zeros({6})));
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("rmsnorm: weight has shape [6], expected [5]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tapelm
