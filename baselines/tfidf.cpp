// Fitting idf and weighting rows.
#include <tapelm/baselines/tfidf.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace tapelm {

Tfidf Tfidf::fit(const SparseRows& counts) {
  Eigen::VectorXd documents = Eigen::VectorXd::Zero(counts.cols());
  for (Eigen::Index row = 0; row < counts.outerSize(); ++row) {
    for (SparseRows::InnerIterator it(counts, row); it; ++it) {
      if (it.value() > 0) documents[it.col()] += 1;
    }
  }
  const double n = double(counts.rows());
  Eigen::VectorXd idf(counts.cols());
  for (Eigen::Index j = 0; j < idf.size(); ++j) idf[j] = std::log((1 + n) / (1 + documents[j])) + 1;
  return Tfidf(std::move(idf));
}

SparseRows Tfidf::transform(const SparseRows& counts) const {
  if (counts.cols() != idf_.size()) {
    throw std::invalid_argument("tf-idf: the rows have " + std::to_string(counts.cols()) +
                                " columns, the fitted vocabulary " + std::to_string(idf_.size()));
  }
  SparseRows weighted = counts;
  weighted.makeCompressed();
  for (Eigen::Index row = 0; row < weighted.outerSize(); ++row) {
    double squares = 0;
    for (SparseRows::InnerIterator it(weighted, row); it; ++it) {
      it.valueRef() = it.value() > 0 ? (1 + std::log(it.value())) * idf_[it.col()] : 0.0;
      squares += it.value() * it.value();
    }
    if (squares == 0) continue;
    const double norm = std::sqrt(squares);
    for (SparseRows::InnerIterator it(weighted, row); it; ++it) it.valueRef() /= norm;
  }
  return weighted;
}

}  // namespace tapelm
