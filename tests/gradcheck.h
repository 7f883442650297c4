// Finite-difference gradient checks for the test binaries: GoogleTest assertions over the
// library's gradcheck (autograd/gradcheck.h), which explains the steps and tolerances.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <utility>
#include <vector>

#include <tapelm/autograd/gradcheck.h>
#include <tapelm/autograd/ops.h>
#include <tapelm/autograd/rng.h>

namespace tapelm::testing {

using tapelm::numerical_gradient;
using tapelm::random_tensor;

// Checks d/d(inputs[i]) of Σ f(inputs) ⊙ R for every input flagged in `differentiable`
// (all when empty), with the library's gradcheck (autograd/gradcheck.h); one failure per
// disagreeing element.
inline void expect_gradients_match(const std::function<Var(std::vector<Var>&)>& f,
                                   const std::vector<Tensor>& inputs, float h = 1e-2f,
                                   float tolerance = 5e-3f, std::vector<bool> differentiable = {}) {
  const GradcheckResult result = gradcheck(f, inputs, {h, tolerance, std::move(differentiable)});
  ASSERT_TRUE(result.error.empty()) << result.error;
  for (const GradcheckMismatch& m : result.mismatches) {
    ADD_FAILURE() << "input " << m.input << " element " << m.element << ": analytic " << m.analytic
                  << ", numeric " << m.numeric << " (tolerance " << tolerance << " relative to max(1, max |grad|))";
  }
}

inline std::vector<double> random_doubles(std::size_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = scale * rng.normal();
  return v;
}

}  // namespace tapelm::testing
