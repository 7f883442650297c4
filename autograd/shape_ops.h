// Shape ops: reshape shares storage; transpose/permute/concat/split/slice/index_select copy.
#pragma once

#include <vector>

#include <tapelm/autograd/variable.h>

namespace tapelm {

Var reshape(const Var& x, Shape shape);  // one dimension may be -1
Var transpose(const Var& x, int64_t dim0, int64_t dim1);
Var permute(const Var& x, const std::vector<int64_t>& dims);
Var concat(const std::vector<Var>& xs, int64_t dim);
// Splits dimension `dim` into consecutive pieces of the given sizes (they must sum to it).
std::vector<Var> split(const Var& x, const std::vector<int64_t>& sizes, int64_t dim);
// Elements [start, end) along `dim`.
Var slice(const Var& x, int64_t dim, int64_t start, int64_t end);
// Rows `index` along `dim` (repeats allowed; backward scatter-adds, deterministically).
Var index_select(const Var& x, int64_t dim, const std::vector<int32_t>& index);

}  // namespace tapelm
