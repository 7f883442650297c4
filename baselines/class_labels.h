// Checks and helpers shared by the classic classifiers: class ids given with their rows, and
// turning per-class scores into predictions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace tapelm {

// Throws std::invalid_argument, prefixed with `who`, unless there is one label per row (and at
// least one row), each in [0, n_classes).
void check_class_labels(const char* who, int64_t rows, const std::vector<int32_t>& labels, int32_t n_classes);

// Training examples per class.
std::vector<int64_t> class_counts(const std::vector<int32_t>& labels, int32_t n_classes);

// The column of each row's largest score (ties: the lowest column).
std::vector<int32_t> row_argmax(const Eigen::MatrixXd& scores);

// Each row minus its log-sum-exp, so its exp sums to 1; -infinity entries stay -infinity.
Eigen::MatrixXd log_softmax_rows(const Eigen::MatrixXd& scores);

}  // namespace tapelm
