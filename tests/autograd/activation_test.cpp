// Activations: kernel gradients in double, op gradients in float.
#include <gtest/gtest.h>

#include <cmath>

#include <tapelm/autograd/kernels/activation.h>
#include "gradcheck.h"

namespace tapelm {
namespace {

using testing::expect_gradients_match;
using testing::numerical_gradient;
using testing::random_doubles;
using testing::random_tensor;

using KernelForward = void (*)(double*, const double*, int64_t);
using KernelBackward = void (*)(double*, const double*, const double*, int64_t);

void expect_kernel_gradient(KernelForward forward, KernelBackward backward) {
  const std::size_t n = 37;
  std::vector<double> x = random_doubles(n, 1, 2.0);
  const std::vector<double> w = random_doubles(n, 2);
  auto loss = [&](const std::vector<double>& in) {
    std::vector<double> out(n);
    forward(out.data(), in.data(), static_cast<int64_t>(n));
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += out[i] * w[i];
    return s;
  };
  std::vector<double> analytic(n, 0.0);
  backward(analytic.data(), x.data(), w.data(), static_cast<int64_t>(n));
  const std::vector<double> numeric = numerical_gradient(loss, x);
  for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(analytic[i], numeric[i], 1e-7) << i;
}

TEST(Activation, GeluKernelGradientMatchesFiniteDifferencesInDouble) {
  expect_kernel_gradient(kernels::gelu_forward<double>, kernels::gelu_backward<double>);
}

TEST(Activation, ExactGeluKernelGradientMatchesFiniteDifferencesInDouble) {
  expect_kernel_gradient(kernels::gelu_exact_forward<double>, kernels::gelu_exact_backward<double>);
}

TEST(Activation, SiluKernelGradientMatchesFiniteDifferencesInDouble) {
  expect_kernel_gradient(kernels::silu_forward<double>, kernels::silu_backward<double>);
}

TEST(Activation, ReluKernelGradientMatchesFiniteDifferencesInDouble) {
  // Random normals land on the kink at 0 with probability zero.
  expect_kernel_gradient(kernels::relu_forward<double>, kernels::relu_backward<double>);
}

TEST(Activation, OpGradientsMatchFiniteDifferences) {
  const Tensor x = random_tensor({3, 4, 5}, 7);
  expect_gradients_match([](std::vector<Var>& v) { return gelu(v[0]); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return gelu_exact(v[0]); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return silu(v[0]); }, {x});
  expect_gradients_match([](std::vector<Var>& v) { return relu(v[0]); }, {x});
}

TEST(Activation, GeluMatchesTheGpt2Formula) {
  Var x(Tensor::from_vector({3}, {-1.0f, 0.0f, 2.0f}));
  Var y = gelu(x);
  EXPECT_NEAR(y.data()[0], -0.158808f, 1e-5);
  EXPECT_NEAR(y.data()[1], 0.0f, 1e-7);
  EXPECT_NEAR(y.data()[2], 1.954597f, 1e-5);
}

TEST(Activation, ExactGeluMatchesTheErfFormula) {
  // torch.nn.functional.gelu(torch.tensor([-1., 0., 2.])), approximate="none"
  Var x(Tensor::from_vector({3}, {-1.0f, 0.0f, 2.0f}));
  Var y = gelu_exact(x);
  EXPECT_NEAR(y.data()[0], -0.1586553f, 1e-6);
  EXPECT_NEAR(y.data()[1], 0.0f, 1e-7);
  EXPECT_NEAR(y.data()[2], 1.9544997f, 1e-6);
}

// SiLU runs on the vectorising fast_exp in float: within a few ulp of the exact formula,
// saturating to 0 and x at the ends instead of overflowing, in both directions.
TEST(Activation, SiluFloatMatchesTheExactFormulaIncludingSaturation) {
  const std::vector<float> xs = {-200.0f, -90.0f, -20.0f, -3.5f, -1.0f, -1e-3f, 0.0f,
                                 1e-3f,   0.7f,   4.0f,   30.0f, 95.0f, 500.0f};
  const int64_t n = static_cast<int64_t>(xs.size());
  std::vector<float> out(xs.size()), grad(xs.size(), 0.0f);
  const std::vector<float> ones(xs.size(), 1.0f);
  kernels::silu_forward(out.data(), xs.data(), n);
  kernels::silu_backward(grad.data(), xs.data(), ones.data(), n);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double x = xs[i], s = 1.0 / (1.0 + std::exp(-x));
    const double exact = x * s, exact_grad = s * (1.0 + x * (1.0 - s));
    EXPECT_NEAR(out[i], exact, 4e-7 * std::max(1.0, std::abs(exact))) << "x " << x;
    EXPECT_NEAR(grad[i], exact_grad, 1e-6 * std::max(1.0, std::abs(exact_grad))) << "x " << x;
    EXPECT_TRUE(std::isfinite(out[i]) && std::isfinite(grad[i])) << "x " << x;
  }
}

}  // namespace
}  // namespace tapelm
