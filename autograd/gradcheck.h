// Finite-difference gradient checks: does an op's backward agree with its forward?
//
// The op is reduced to a scalar L = Σ out ⊙ R with a fixed random R, so every output element
// contributes with a distinct weight; dL/dinput from the tape is compared with central
// differences (L(x+h) − L(x−h)) / 2h, with L summed in double. In float a step of h = 1e-2
// keeps truncation error O(h²) ≈ 1e-4 relative while rounding error stays ≈ 1e-7·|L|/h ≈
// 1e-5, so a tolerance of a few 1e-3 separates a correct gradient from a wrong one (a wrong
// formula is off by O(1)).
//
// `numerical_gradient` differentiates any function of a double vector, for code templated on
// the scalar; there h = 1e-6 and tolerances of 1e-7 apply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <tapelm/autograd/tensor.h>
#include <tapelm/autograd/variable.h>

namespace tapelm {

struct GradcheckOptions {
  float h = 1e-2f;           // the finite-difference step
  float tolerance = 5e-3f;   // allowed |analytic − numeric|, relative to max(1, max |analytic|) per input
  std::vector<bool> differentiable;  // which inputs of gradcheck to check (and give requires_grad); empty = all
  uint64_t seed = 12345;     // of the output weights R
};

// One element whose gradients disagree.
struct GradcheckMismatch {
  std::size_t input = 0;
  int64_t element = 0;
  double analytic = 0;
  double numeric = 0;
};

struct GradcheckResult {
  std::string error;  // an input without a gradient or with one of the wrong shape; "" if none
  std::vector<GradcheckMismatch> mismatches;
  double max_error = 0;  // the largest |analytic − numeric| / max(1, max |analytic|) seen

  bool passed() const { return error.empty() && mismatches.empty(); }
  // "passed, max error 1.2e-04", or what failed and where (the first few mismatches).
  std::string summary() const;
};

// Checks d/d(inputs[i]) of Σ f(inputs) ⊙ R for every input flagged in options.differentiable.
// f must be deterministic in its inputs (it runs once on the tape and 2 · numel times without).
GradcheckResult gradcheck(const std::function<Var(std::vector<Var>&)>& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// The same check for tensors f reads by itself, e.g. a module's parameters
// (Module::named_parameters()): the tape's gradients of Σ f() ⊙ R against each element nudged
// by ±h in place (and restored), at most `max_per_tensor` evenly spaced elements of each
// (0 = all). Mismatches name the tensor by its index in `params`. Gradients present before the
// check are dropped; none are left after it.
GradcheckResult gradcheck_parameters(const std::vector<std::pair<std::string, Var>>& params,
                                     const std::function<Var()>& f, const GradcheckOptions& options = {},
                                     int64_t max_per_tensor = 0);

// Central-difference gradient of a scalar function of a double vector.
std::vector<double> numerical_gradient(const std::function<double(const std::vector<double>&)>& f,
                                       std::vector<double> x, double h = 1e-6);

// A tensor of normal(0, scale²) values from `seed`.
Tensor random_tensor(const Shape& shape, uint64_t seed, float scale = 1.0f);

}  // namespace tapelm
