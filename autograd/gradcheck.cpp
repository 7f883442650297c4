// Finite-difference gradient checks.
#include <tapelm/autograd/gradcheck.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include <tapelm/autograd/elementwise.h>
#include <tapelm/autograd/reduce.h>
#include <tapelm/autograd/rng.h>
#include <tapelm/autograd/tape.h>

namespace tapelm {
namespace {

double weighted_sum(const Tensor& out, const Tensor& weights) {
  double s = 0.0;
  for (int64_t i = 0; i < out.numel(); ++i) s += double(out.data()[i]) * double(weights.data()[i]);
  return s;
}

// Runs backward on L = Σ out ⊙ R for R drawn from `seed`; returns R.
Tensor backward_weighted_sum(const Var& out, uint64_t seed) {
  const Tensor weights = random_tensor(out.shape(), seed);
  Var loss = sum_all(mul(out, Var(weights)));
  backward(loss);
  return weights;
}

// Compares the gradient of tensor `input` with central differences of `loss_at(element, delta)`
// (L with that element moved by delta) at every `stride`-th element.
void compare(const Tensor& analytic, std::size_t input, int64_t stride, const GradcheckOptions& options,
             const std::function<double(int64_t, float)>& loss_at, GradcheckResult& result) {
  double max_abs = 0.0;
  for (int64_t k = 0; k < analytic.numel(); ++k) max_abs = std::max(max_abs, std::abs(double(analytic.data()[k])));
  const double scale = std::max(1.0, max_abs);
  for (int64_t k = 0; k < analytic.numel(); k += stride) {
    const double numeric = (loss_at(k, options.h) - loss_at(k, -options.h)) / (2.0 * options.h);
    const double a = analytic.data()[k];
    const double error = std::abs(a - numeric) / scale;
    result.max_error = std::max(result.max_error, error);
    if (!(error <= options.tolerance)) result.mismatches.push_back({input, k, a, numeric});
  }
}

// "" when `v` has a gradient shaped like it, else the problem.
std::string gradient_problem(const Var& v, const std::string& what) {
  if (!v.has_grad()) return "gradcheck: " + what + " received no gradient";
  if (v.grad().shape() != v.shape()) return "gradcheck: " + what + "'s gradient is shaped unlike it";
  return "";
}

}  // namespace

std::string GradcheckResult::summary() const {
  std::ostringstream out;
  if (!error.empty()) return error;
  if (mismatches.empty()) {
    out << "passed, max error " << max_error;
    return out.str();
  }
  out << mismatches.size() << " gradient element(s) disagree, max error " << max_error;
  const std::size_t shown = std::min<std::size_t>(mismatches.size(), 5);
  for (std::size_t i = 0; i < shown; ++i) {
    const GradcheckMismatch& m = mismatches[i];
    out << "; input " << m.input << " element " << m.element << ": analytic " << m.analytic << ", numeric "
        << m.numeric;
  }
  return out.str();
}

GradcheckResult gradcheck(const std::function<Var(std::vector<Var>&)>& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  std::vector<bool> differentiable = options.differentiable;
  if (differentiable.empty()) differentiable.assign(inputs.size(), true);
  GradcheckResult result;
  if (differentiable.size() != inputs.size()) {
    result.error = "gradcheck: " + std::to_string(differentiable.size()) + " differentiable flags for " +
                   std::to_string(inputs.size()) + " inputs";
    return result;
  }
  std::vector<Var> vars;
  for (std::size_t i = 0; i < inputs.size(); ++i) vars.emplace_back(inputs[i].clone(), differentiable[i]);
  const Tensor weights = backward_weighted_sum(f(vars), options.seed);

  auto loss_at = [&](std::size_t which, int64_t index, float delta) {
    NoGradGuard no_grad;
    std::vector<Var> probe;
    for (std::size_t i = 0; i < inputs.size(); ++i) probe.emplace_back(inputs[i].clone(), false);
    probe[which].data()[index] += delta;
    return weighted_sum(f(probe).value(), weights);
  };

  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!differentiable[i]) continue;
    result.error = gradient_problem(vars[i], "input " + std::to_string(i));
    if (!result.error.empty()) return result;
    compare(vars[i].grad(), i, 1, options, [&](int64_t k, float delta) { return loss_at(i, k, delta); }, result);
  }
  return result;
}

GradcheckResult gradcheck_parameters(const std::vector<std::pair<std::string, Var>>& params,
                                     const std::function<Var()>& f, const GradcheckOptions& options,
                                     int64_t max_per_tensor) {
  for (const auto& [name, p] : params) p.zero_grad();
  const Tensor weights = backward_weighted_sum(f(), options.seed);

  GradcheckResult result;
  for (std::size_t i = 0; i < params.size() && result.error.empty(); ++i) {
    const auto& [name, p] = params[i];
    result.error = gradient_problem(p, "parameter " + name);
    if (!result.error.empty()) break;
    const int64_t n = p.numel();
    const int64_t stride = max_per_tensor > 0 && n > max_per_tensor ? n / max_per_tensor : 1;
    Var handle = p;  // a copy of the handle, through which the values may change
    // The pointer is taken at each write, never kept across f(): a product in f may keep a
    // copy of the weight made at the storage's version (autograd/bf16_weights.h).
    compare(p.grad().clone(), i, stride, options,
            [&](int64_t k, float delta) {
              NoGradGuard no_grad;
              const float saved = handle.data()[k];
              handle.data()[k] = saved + delta;
              const double l = weighted_sum(f().value(), weights);
              handle.data()[k] = saved;
              return l;
            },
            result);
  }
  for (const auto& [name, p] : params) p.zero_grad();
  return result;
}

std::vector<double> numerical_gradient(const std::function<double(const std::vector<double>&)>& f,
                                       std::vector<double> x, double h) {
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

Tensor random_tensor(const Shape& shape, uint64_t seed, float scale) {
  Rng rng(seed);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = scale * rng.normal();
  return t;
}

}  // namespace tapelm
