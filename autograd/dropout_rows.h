// DropoutRows: the global index of each row a dropout mask is drawn for (autograd/dropout.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tapelm {

// The global index of each row of x's first dimension: first + i0 (a batch that is a run of a
// larger one), or ids[i0] when given (rows picked from one, e.g. a classifier's windows of
// several documents).
struct DropoutRows {
  int64_t first = 0;
  std::vector<int64_t> ids;

  // Implicit: a plain offset is what almost every caller has.
  DropoutRows(int64_t first_row = 0) : first(first_row) {}
  static DropoutRows listed(std::vector<int64_t> ids) {
    DropoutRows rows;
    rows.ids = std::move(ids);
    return rows;
  }
  int64_t operator[](int64_t i0) const { return ids.empty() ? first + i0 : ids[static_cast<std::size_t>(i0)]; }
};

}  // namespace tapelm
