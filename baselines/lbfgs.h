// Unconstrained minimisation of a smooth function with L-BFGS (Nocedal & Wright, Numerical
// Optimization, algorithms 7.4 and 7.5): the two-loop recursion over the last `memory` steps and
// a backtracking line search on the Armijo condition. No threads, no randomness: the same
// function and start give the same iterates, bit for bit.
#pragma once

#include <functional>

#include <Eigen/Core>

namespace tapelm {

struct LbfgsOptions {
  int max_iterations = 100;           // scikit-learn's LogisticRegression max_iter
  int memory = 10;                    // (s, y) pairs kept, as scipy's L-BFGS-B
  double gradient_tolerance = 1e-4;   // stop when every |gradient component| <= this (scikit-learn's tol)
};

struct LbfgsResult {
  Eigen::VectorXd x;
  double value = 0;
  int iterations = 0;
  bool converged = false;  // the gradient tolerance was met (else the budget ran out or no step helped)
};

// Returns f(x) and writes its gradient into `gradient` (sized like x).
using Objective = std::function<double(const Eigen::VectorXd& x, Eigen::VectorXd& gradient)>;

LbfgsResult minimize_lbfgs(const Objective& objective, Eigen::VectorXd start, const LbfgsOptions& options = {});

}  // namespace tapelm
