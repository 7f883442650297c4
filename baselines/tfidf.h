// TF-IDF weighting of count rows, as scikit-learn's TfidfTransformer(sublinear_tf=True) does
// with its other defaults: tf = 1 + ln(count), idf = ln((1 + n) / (1 + df)) + 1 (smooth idf:
// as if one extra text held every term once; n training texts, df of them holding the term),
// each row then scaled to unit L2 norm (an empty row stays zero).
#pragma once

#include <Eigen/Core>

#include <tapelm/baselines/sparse_rows.h>

namespace tapelm {

class Tfidf {
 public:
  // The idf of each column of `counts` (the training texts' count rows).
  static Tfidf fit(const SparseRows& counts);

  // tf-idf rows of `counts`, which must have as many columns as the fitted ones (throws
  // std::invalid_argument otherwise).
  SparseRows transform(const SparseRows& counts) const;

  const Eigen::VectorXd& idf() const { return idf_; }

 private:
  explicit Tfidf(Eigen::VectorXd idf) : idf_(std::move(idf)) {}
  Eigen::VectorXd idf_;  // per column
};

}  // namespace tapelm
