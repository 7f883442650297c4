// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_ semantics).
#pragma once

#include <tapelm/nn/module.h>

namespace tapelm {

// L2 norm over every gradient of `params` (parameters without one are skipped), summed in
// double over fixed-size chunks in a fixed order: bitwise reproducible for any thread count.
double grad_norm(const NamedParameters& params);

// Returns the norm before clipping. When it exceeds max_norm, every gradient is scaled by
// max_norm / (norm + 1e-6), as PyTorch does. A non-finite norm leaves the gradients as they
// are and is returned as is: the caller decides (typically skips the step and logs it).
// max_norm must be finite and > 0 (to only measure, call grad_norm).
double clip_grad_norm(const NamedParameters& params, double max_norm);

}  // namespace tapelm
