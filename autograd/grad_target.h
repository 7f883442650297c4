// Where a fused op's backward kernel accumulates each input's gradient.
#pragma once

#include <tapelm/autograd/variable.h>

namespace tapelm {

// The input's gradient buffer (created as zeros on first use) when it requires grad, else
// null, which the multi-input kernels (norm, attention) read as "skip this gradient".
inline float* grad_target(const Var& v) { return v.requires_grad() ? v.ensure_grad().data() : nullptr; }

}  // namespace tapelm
