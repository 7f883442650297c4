// Finite-difference gradient checks shared by the test binaries.
//
// Op level (float): the op is reduced to a scalar L = Σ out ⊙ R with a fixed random R, so
// every output element contributes with a distinct weight; dL/dinput from the tape is
// compared with central differences (L(x+h) − L(x−h)) / 2h, with L summed in double.
// In float a step of h = 1e-2 keeps truncation error O(h²) ≈ 1e-4 relative while rounding
// error stays ≈ 1e-7·|L|/h ≈ 1e-5, so a tolerance of a few 1e-3 separates a correct
// gradient from a wrong one (a wrong formula is off by O(1)).
//
// Kernel level (double): `numerical_gradient` differentiates any double function, for
// kernels templated on the scalar; there h = 1e-6 and tolerances of 1e-7 apply.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "autograd/ops.h"
#include "autograd/rng.h"

namespace tapelm::testing {

inline Tensor random_tensor(const Shape& shape, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = scale * rng.normal();
  return t;
}

inline double weighted_sum(const Tensor& out, const Tensor& weights) {
  double s = 0.0;
  for (int64_t i = 0; i < out.numel(); ++i) s += double(out.data()[i]) * double(weights.data()[i]);
  return s;
}

// Checks d/d(inputs[i]) of Σ f(inputs) ⊙ R for every input i flagged in `differentiable`
// (all when empty). f must be deterministic in its inputs.
inline void expect_gradients_match(const std::function<Var(std::vector<Var>&)>& f,
                                   const std::vector<Tensor>& inputs, float h = 1e-2f,
                                   float tolerance = 5e-3f, std::vector<bool> differentiable = {}) {
  if (differentiable.empty()) differentiable.assign(inputs.size(), true);
  std::vector<Var> vars;
  for (std::size_t i = 0; i < inputs.size(); ++i) vars.emplace_back(inputs[i].clone(), differentiable[i]);
  Var out = f(vars);
  const Tensor weights = random_tensor(out.shape(), 12345);
  Var loss = sum_all(mul(out, Var(weights)));
  backward(loss);

  auto loss_at = [&](std::size_t which, int64_t index, float delta) {
    NoGradGuard no_grad;
    std::vector<Var> probe;
    for (std::size_t i = 0; i < inputs.size(); ++i) probe.emplace_back(inputs[i].clone(), false);
    probe[which].data()[index] += delta;
    return weighted_sum(f(probe).value(), weights);
  };

  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!differentiable[i]) continue;
    ASSERT_TRUE(vars[i].has_grad()) << "input " << i << " received no gradient";
    const Tensor& analytic = vars[i].grad();
    ASSERT_EQ(analytic.shape(), inputs[i].shape()) << "input " << i;
    double max_abs = 0.0;
    for (int64_t k = 0; k < analytic.numel(); ++k) max_abs = std::max(max_abs, std::abs(double(analytic.data()[k])));
    for (int64_t k = 0; k < analytic.numel(); ++k) {
      const double numeric = (loss_at(i, k, h) - loss_at(i, k, -h)) / (2.0 * h);
      const double a = analytic.data()[k];
      EXPECT_NEAR(a, numeric, tolerance * std::max(1.0, max_abs))
          << "input " << i << " element " << k;
    }
  }
}

// Central-difference gradient of a scalar function of a double vector.
inline std::vector<double> numerical_gradient(const std::function<double(const std::vector<double>&)>& f,
                                              std::vector<double> x, double h = 1e-6) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double plus = f(x);
    x[i] = saved - h;
    const double minus = f(x);
    x[i] = saved;
    g[i] = (plus - minus) / (2.0 * h);
  }
  return g;
}

inline std::vector<double> random_doubles(std::size_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = scale * rng.normal();
  return v;
}

}  // namespace tapelm::testing
