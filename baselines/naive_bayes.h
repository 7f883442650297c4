// Multinomial naive Bayes over count rows, as scikit-learn's MultinomialNB with its defaults:
// additive (Laplace) smoothing alpha = 1 and class priors from the training frequencies.
//   P(c)       = n_c / n                                   (n_c training texts of class c)
//   P(w | c)   = (N_cw + alpha) / (N_c + alpha * V)        (N_cw: count of feature w in class c's
//                                                           texts, N_c their sum, V features)
//   log P(c | x) = log P(c) + sum_w x_w log P(w | c), normalised over the classes.
// A class without training examples has prior 0: log posterior -infinity, never predicted.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include <tapelm/baselines/sparse_rows.h>

namespace tapelm {

struct NaiveBayesOptions {
  double alpha = 1.0;  // additive smoothing, > 0
};

class MultinomialNaiveBayes {
 public:
  // `labels[i]` in [0, n_classes) is the class of row i of `counts`. Throws
  // std::invalid_argument for mismatched sizes, a label out of range, no rows or alpha <= 0.
  static MultinomialNaiveBayes fit(const SparseRows& counts, const std::vector<int32_t>& labels, int32_t n_classes,
                                   const NaiveBayesOptions& options = {});

  // [rows, n_classes]: log P(c | row), each row's exp summing to 1.
  Eigen::MatrixXd log_posterior(const SparseRows& counts) const;
  // The most probable class of each row (ties: the lowest class id).
  std::vector<int32_t> predict(const SparseRows& counts) const;

  const Eigen::VectorXd& log_prior() const { return log_prior_; }
  // [n_classes, features]: log P(w | c).
  const Eigen::MatrixXd& log_likelihood() const { return log_likelihood_; }

 private:
  MultinomialNaiveBayes(Eigen::VectorXd log_prior, Eigen::MatrixXd log_likelihood)
      : log_prior_(std::move(log_prior)), log_likelihood_(std::move(log_likelihood)) {}

  Eigen::VectorXd log_prior_;
  Eigen::MatrixXd log_likelihood_;
};

}  // namespace tapelm
