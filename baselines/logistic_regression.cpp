// The softmax regression objective, its gradient and the L-BFGS fit.
#include <tapelm/baselines/logistic_regression.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include <tapelm/baselines/class_labels.h>

namespace tapelm {

double logistic_regression_objective(const SparseRows& x, const std::vector<int32_t>& labels, double C,
                                     const Eigen::MatrixXd& weights, const Eigen::VectorXd& bias,
                                     Eigen::MatrixXd* weight_gradient, Eigen::VectorXd* bias_gradient) {
  const double n = double(x.rows());
  Eigen::MatrixXd log_p = (x * weights).eval();
  log_p.rowwise() += bias.transpose();
  log_p = log_softmax_rows(log_p);
  double loss = 0;
  for (Eigen::Index i = 0; i < x.rows(); ++i) loss -= log_p(i, labels[size_t(i)]);
  loss = loss / n + weights.squaredNorm() / (2 * C * n);
  if (weight_gradient || bias_gradient) {
    // d(mean cross-entropy)/d(logits) = (softmax - one_hot) / n.
    Eigen::MatrixXd residual = log_p.array().exp();
    for (Eigen::Index i = 0; i < x.rows(); ++i) residual(i, labels[size_t(i)]) -= 1;
    residual /= n;
    if (weight_gradient) *weight_gradient = (x.transpose() * residual).eval() + weights / (C * n);
    if (bias_gradient) *bias_gradient = residual.colwise().sum().transpose();
  }
  return loss;
}

LogisticRegression LogisticRegression::fit(const SparseRows& x, const std::vector<int32_t>& labels, int32_t n_classes,
                                           const LogisticRegressionOptions& options) {
  check_class_labels("logistic regression", x.rows(), labels, n_classes);
  if (!(options.C > 0)) {
    throw std::invalid_argument("logistic regression: C must be > 0, got " + std::to_string(options.C));
  }
  LogisticRegression model;
  model.n_classes_ = n_classes;
  std::vector<int32_t> compact(size_t(n_classes), -1);  // class id -> column, -1 without examples
  const std::vector<int64_t> counts = class_counts(labels, n_classes);
  for (int32_t c = 0; c < n_classes; ++c) {
    if (counts[size_t(c)] == 0) continue;
    compact[size_t(c)] = int32_t(model.trained_classes_.size());
    model.trained_classes_.push_back(c);
  }
  std::vector<int32_t> columns;
  columns.reserve(labels.size());
  for (int32_t label : labels) columns.push_back(compact[size_t(label)]);

  const Eigen::Index features = x.cols();
  const Eigen::Index k = Eigen::Index(model.trained_classes_.size());
  // The parameters as one vector: W column by column, then b.
  const auto objective = [&](const Eigen::VectorXd& theta, Eigen::VectorXd& gradient) {
    const Eigen::MatrixXd weights = Eigen::Map<const Eigen::MatrixXd>(theta.data(), features, k);
    const Eigen::VectorXd bias = theta.tail(k);
    Eigen::MatrixXd weight_gradient;
    Eigen::VectorXd bias_gradient;
    const double value =
        logistic_regression_objective(x, columns, options.C, weights, bias, &weight_gradient, &bias_gradient);
    gradient.head(features * k) = Eigen::Map<const Eigen::VectorXd>(weight_gradient.data(), features * k);
    gradient.tail(k) = bias_gradient;
    return value;
  };
  model.optimisation_ = minimize_lbfgs(objective, Eigen::VectorXd::Zero(features * k + k), options.lbfgs);
  model.weights_ = Eigen::Map<const Eigen::MatrixXd>(model.optimisation_.x.data(), features, k);
  model.bias_ = model.optimisation_.x.tail(k);
  return model;
}

Eigen::MatrixXd LogisticRegression::probabilities(const SparseRows& x) const {
  if (x.cols() != weights_.rows()) {
    throw std::invalid_argument("logistic regression: the rows have " + std::to_string(x.cols()) +
                                " features, the model " + std::to_string(weights_.rows()));
  }
  Eigen::MatrixXd logits = (x * weights_).eval();
  logits.rowwise() += bias_.transpose();
  const Eigen::MatrixXd trained = log_softmax_rows(logits).array().exp();
  Eigen::MatrixXd all = Eigen::MatrixXd::Zero(x.rows(), n_classes_);
  for (size_t k = 0; k < trained_classes_.size(); ++k) all.col(trained_classes_[k]) = trained.col(Eigen::Index(k));
  return all;
}

std::vector<int32_t> LogisticRegression::predict(const SparseRows& x) const { return row_argmax(probabilities(x)); }

}  // namespace tapelm
