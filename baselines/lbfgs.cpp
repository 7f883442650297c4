// L-BFGS with a backtracking Armijo line search.
#include <tapelm/baselines/lbfgs.h>

#include <algorithm>
#include <deque>

namespace tapelm {
namespace {

constexpr double kArmijo = 1e-4;       // sufficient decrease: f(x + t d) <= f(x) + kArmijo t g.d
constexpr int kMaxBacktracks = 40;     // halvings of the step before giving up
constexpr double kMinCurvature = 1e-10;  // pairs with s.y below this would break the inverse-Hessian estimate

struct Pair {
  Eigen::VectorXd s, y;  // x and gradient differences of one step
  double rho;            // 1 / (y . s)
};

// -H g, H the L-BFGS estimate of the inverse Hessian from `history` (oldest first).
Eigen::VectorXd search_direction(const Eigen::VectorXd& gradient, const std::deque<Pair>& history) {
  Eigen::VectorXd q = gradient;
  std::vector<double> alpha(history.size());
  for (size_t i = history.size(); i-- > 0;) {
    alpha[i] = history[i].rho * history[i].s.dot(q);
    q -= alpha[i] * history[i].y;
  }
  if (!history.empty()) q *= history.back().s.dot(history.back().y) / history.back().y.squaredNorm();
  for (size_t i = 0; i < history.size(); ++i) {
    const double beta = history[i].rho * history[i].y.dot(q);
    q += (alpha[i] - beta) * history[i].s;
  }
  return -q;
}

}  // namespace

LbfgsResult minimize_lbfgs(const Objective& objective, Eigen::VectorXd start, const LbfgsOptions& options) {
  LbfgsResult result;
  result.x = std::move(start);
  Eigen::VectorXd gradient(result.x.size());
  result.value = objective(result.x, gradient);
  std::deque<Pair> history;
  Eigen::VectorXd next_gradient(result.x.size());
  for (; result.iterations < options.max_iterations; ++result.iterations) {
    if (gradient.size() == 0 || gradient.lpNorm<Eigen::Infinity>() <= options.gradient_tolerance) {
      result.converged = true;
      break;
    }
    Eigen::VectorXd direction = search_direction(gradient, history);
    double slope = gradient.dot(direction);
    if (!(slope < 0)) {  // not a descent direction: restart from steepest descent
      history.clear();
      direction = -gradient;
      slope = -gradient.squaredNorm();
    }
    // Without curvature information the first step is scaled to unit length.
    double step = history.empty() ? std::min(1.0, 1.0 / gradient.norm()) : 1.0;
    bool accepted = false;
    Eigen::VectorXd next;
    double next_value = 0;
    for (int backtrack = 0; backtrack < kMaxBacktracks && !accepted; ++backtrack, step *= 0.5) {
      next = result.x + step * direction;
      next_value = objective(next, next_gradient);
      accepted = next_value <= result.value + kArmijo * step * slope;
    }
    if (!accepted) break;
    Pair pair{next - result.x, next_gradient - gradient, 0};
    const double curvature = pair.s.dot(pair.y);
    if (curvature > kMinCurvature) {
      pair.rho = 1 / curvature;
      history.push_back(std::move(pair));
      if (int(history.size()) > options.memory) history.pop_front();
    }
    result.x = std::move(next);
    result.value = next_value;
    gradient = next_gradient;
  }
  if (!result.converged) {
    result.converged = gradient.size() == 0 || gradient.lpNorm<Eigen::Infinity>() <= options.gradient_tolerance;
  }
  return result;
}

}  // namespace tapelm
