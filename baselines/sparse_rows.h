// The feature matrix every classic baseline reads: one sparse row per text (row-major, so a
// row's features are contiguous), values in double so fits are exact enough to compare.
#pragma once

#include <Eigen/Sparse>

namespace tapelm {

using SparseRows = Eigen::SparseMatrix<double, Eigen::RowMajor>;

}  // namespace tapelm
