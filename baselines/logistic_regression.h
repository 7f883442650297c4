// Multinomial (softmax) logistic regression with L2 regularisation, as scikit-learn's
// LogisticRegression with its defaults (C = 1, lbfgs, max_iter = 100, tol = 1e-4, an
// unpenalised intercept). It minimises, for n training rows x_i with classes y_i,
//   C * sum_i -log softmax(x_i W + b)[y_i] + ||W||^2 / 2,
// here divided by C n (the same minimiser, a gradient of the scale of one example):
//   mean_i -log softmax(x_i W + b)[y_i] + ||W||^2 / (2 C n),
// full-batch with L-BFGS (baselines/lbfgs.h) from W = 0, b = 0: exact and deterministic.
// Only the classes that have training examples get weights; any other class has
// probability 0 and is never predicted.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include <tapelm/baselines/lbfgs.h>
#include <tapelm/baselines/sparse_rows.h>

namespace tapelm {

struct LogisticRegressionOptions {
  double C = 1.0;  // inverse regularisation strength, > 0
  LbfgsOptions lbfgs;
};

// The objective above for classes 0 .. weights.cols()-1 (`labels` in that range), with its
// gradients written when the pointers are not null. weights: [features, classes], bias: [classes].
double logistic_regression_objective(const SparseRows& x, const std::vector<int32_t>& labels, double C,
                                     const Eigen::MatrixXd& weights, const Eigen::VectorXd& bias,
                                     Eigen::MatrixXd* weight_gradient, Eigen::VectorXd* bias_gradient);

class LogisticRegression {
 public:
  // `labels[i]` in [0, n_classes) is the class of row i of `x`. Throws std::invalid_argument
  // for mismatched sizes, a label out of range, no rows or C <= 0.
  static LogisticRegression fit(const SparseRows& x, const std::vector<int32_t>& labels, int32_t n_classes,
                                const LogisticRegressionOptions& options = {});

  // [rows, n_classes]: P(c | row); 0 for the classes without training examples.
  Eigen::MatrixXd probabilities(const SparseRows& x) const;
  // The most probable class of each row (ties: the lowest class id).
  std::vector<int32_t> predict(const SparseRows& x) const;

  // The class ids that have weights (those with training examples), ascending; column k of
  // weights() and entry k of bias() belong to trained_classes()[k].
  const std::vector<int32_t>& trained_classes() const { return trained_classes_; }
  const Eigen::MatrixXd& weights() const { return weights_; }
  const Eigen::VectorXd& bias() const { return bias_; }
  const LbfgsResult& optimisation() const { return optimisation_; }

 private:
  LogisticRegression() = default;

  int32_t n_classes_ = 0;
  std::vector<int32_t> trained_classes_;
  Eigen::MatrixXd weights_;  // [features, trained classes]
  Eigen::VectorXd bias_;     // [trained classes]
  LbfgsResult optimisation_;
};

}  // namespace tapelm
