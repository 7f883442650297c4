// Label checks, argmax and log-softmax for the classic classifiers.
#include <tapelm/baselines/class_labels.h>

#include <cmath>
#include <stdexcept>

namespace tapelm {

void check_class_labels(const char* who, int64_t rows, const std::vector<int32_t>& labels, int32_t n_classes) {
  const std::string prefix = std::string(who) + ": ";
  if (rows == 0) throw std::invalid_argument(prefix + "no training examples");
  if (int64_t(labels.size()) != rows) {
    throw std::invalid_argument(prefix + std::to_string(rows) + " rows but " + std::to_string(labels.size()) +
                                " labels");
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= n_classes) {
      throw std::invalid_argument(prefix + "label " + std::to_string(labels[i]) + " of row " + std::to_string(i) +
                                  " is outside [0, " + std::to_string(n_classes) + ")");
    }
  }
}

std::vector<int64_t> class_counts(const std::vector<int32_t>& labels, int32_t n_classes) {
  std::vector<int64_t> counts(size_t(n_classes), 0);
  for (int32_t label : labels) ++counts[size_t(label)];
  return counts;
}

std::vector<int32_t> row_argmax(const Eigen::MatrixXd& scores) {
  std::vector<int32_t> best(size_t(scores.rows()), 0);
  for (Eigen::Index r = 0; r < scores.rows(); ++r) {
    for (Eigen::Index c = 1; c < scores.cols(); ++c) {
      if (scores(r, c) > scores(r, best[size_t(r)])) best[size_t(r)] = int32_t(c);
    }
  }
  return best;
}

Eigen::MatrixXd log_softmax_rows(const Eigen::MatrixXd& scores) {
  Eigen::MatrixXd out = scores;
  for (Eigen::Index r = 0; r < scores.rows(); ++r) {
    const double top = scores.row(r).maxCoeff();
    double sum = 0;
    for (Eigen::Index c = 0; c < scores.cols(); ++c) sum += std::exp(scores(r, c) - top);
    out.row(r).array() -= top + std::log(sum);
  }
  return out;
}

}  // namespace tapelm
