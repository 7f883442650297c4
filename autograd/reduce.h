// Reductions over one axis, and softmax / log_softmax over the last axis.
#pragma once

#include <tapelm/autograd/variable.h>

namespace tapelm {

Var sum(const Var& x, int64_t dim, bool keepdim = false);
Var mean(const Var& x, int64_t dim, bool keepdim = false);
// Max over `dim`; the gradient goes to the first maximal element.
Var max(const Var& x, int64_t dim, bool keepdim = false);
Var sum_all(const Var& x);   // scalar (shape [])
Var mean_all(const Var& x);  // scalar (shape [])

Var softmax(const Var& x);      // over the last axis
Var log_softmax(const Var& x);  // over the last axis

}  // namespace tapelm
