// Fitting and applying multinomial naive Bayes.
#include <tapelm/baselines/naive_bayes.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <tapelm/baselines/class_labels.h>

namespace tapelm {

MultinomialNaiveBayes MultinomialNaiveBayes::fit(const SparseRows& counts, const std::vector<int32_t>& labels,
                                                 int32_t n_classes, const NaiveBayesOptions& options) {
  check_class_labels("naive Bayes", counts.rows(), labels, n_classes);
  if (!(options.alpha > 0)) {
    throw std::invalid_argument("naive Bayes: alpha must be > 0, got " + std::to_string(options.alpha));
  }
  Eigen::MatrixXd feature_counts = Eigen::MatrixXd::Zero(n_classes, counts.cols());
  for (Eigen::Index row = 0; row < counts.outerSize(); ++row) {
    for (SparseRows::InnerIterator it(counts, row); it; ++it) feature_counts(labels[size_t(row)], it.col()) += it.value();
  }
  const std::vector<int64_t> examples = class_counts(labels, n_classes);
  Eigen::VectorXd log_prior(n_classes);
  Eigen::MatrixXd log_likelihood(n_classes, counts.cols());
  const double smoothed_features = options.alpha * double(counts.cols());
  for (int32_t c = 0; c < n_classes; ++c) {
    log_prior[c] = examples[size_t(c)] > 0 ? std::log(double(examples[size_t(c)]) / double(labels.size()))
                                           : -std::numeric_limits<double>::infinity();
    const double total = feature_counts.row(c).sum() + smoothed_features;
    log_likelihood.row(c) = ((feature_counts.row(c).array() + options.alpha) / total).log();
  }
  return MultinomialNaiveBayes(std::move(log_prior), std::move(log_likelihood));
}

Eigen::MatrixXd MultinomialNaiveBayes::log_posterior(const SparseRows& counts) const {
  if (counts.cols() != log_likelihood_.cols()) {
    throw std::invalid_argument("naive Bayes: the rows have " + std::to_string(counts.cols()) +
                                " features, the model " + std::to_string(log_likelihood_.cols()));
  }
  Eigen::MatrixXd joint = (counts * log_likelihood_.transpose()).eval();
  joint.rowwise() += log_prior_.transpose();
  return log_softmax_rows(joint);
}

std::vector<int32_t> MultinomialNaiveBayes::predict(const SparseRows& counts) const {
  return row_argmax(log_posterior(counts));
}

}  // namespace tapelm
