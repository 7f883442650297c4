// Cross-entropy from logits, fused with log-softmax.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/variable.h"

namespace tapelm {

constexpr int32_t kIgnoreIndex = -100;

// logits: [..., V]; targets: one id per row (numel(logits) / V of them), each in [0, V)
// or ignore_index. Returns the mean over non-ignored rows as a scalar (0 if all ignored).
Var cross_entropy(const Var& logits, const std::vector<int32_t>& targets,
                  int32_t ignore_index = kIgnoreIndex);

}  // namespace tapelm
