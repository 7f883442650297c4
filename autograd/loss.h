// Cross-entropy from logits, fused with log-softmax.
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/autograd/variable.h>

namespace tapelm {

constexpr int32_t kIgnoreIndex = -100;

// logits: [..., V]; targets: one id per row (numel(logits) / V of them), each in [0, V)
// or ignore_index. Returns the mean over non-ignored rows as a scalar (0 if all ignored).
// label_smoothing ε in [0, 1) trains towards (1 − ε)·onehot + ε/V (Szegedy et al. 2016, as
// in the original Transformer); its loss is no longer a log-likelihood, so evaluation uses 0.
// class_weights: empty (every class 1) or V finite weights > 0; the result is then the
// weighted mean Σ w[t_n]·ce_n / Σ w[t_n] over non-ignored rows, as PyTorch's
// CrossEntropyLoss(weight=..., reduction='mean'). A row's smoothing term takes its target's
// weight too (PyTorch weights the smoothing term class by class instead).
Var cross_entropy(const Var& logits, const std::vector<int32_t>& targets,
                  int32_t ignore_index = kIgnoreIndex, float label_smoothing = 0.0f,
                  const std::vector<float>& class_weights = {});

}  // namespace tapelm
