// Cross-entropy op: validates targets, runs the fused kernel, records one node.
#include <tapelm/autograd/loss.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include <tapelm/autograd/check.h>
#include <tapelm/autograd/kernels/cross_entropy.h>
#include <tapelm/autograd/record.h>

namespace tapelm {

namespace {

// The sum of the non-ignored rows' weights (their number without class weights); throws
// naming the first out-of-range target. In double, so a count stays exact.
double valid_weight(const std::vector<int32_t>& targets, int64_t V, int32_t ignore_index,
                    const std::vector<float>& class_weights) {
  double valid = 0;
  for (std::size_t n = 0; n < targets.size(); ++n) {
    const int32_t t = targets[n];
    if (t == ignore_index) continue;
    if (t < 0 || t >= V) {
      throw IndexError("cross_entropy: target " + std::to_string(t) + " at row " + std::to_string(n) +
                       " is out of range for " + std::to_string(V) + " classes (expected [0, " +
                       std::to_string(V) + ") or ignore_index " + std::to_string(ignore_index) + ")");
    }
    valid += class_weights.empty() ? 1.0 : double(class_weights[t]);
  }
  return valid;
}

void check_class_weights(const std::vector<float>& class_weights, int64_t V) {
  if (class_weights.empty()) return;
  if (static_cast<int64_t>(class_weights.size()) != V) {
    throw ShapeError("cross_entropy: " + std::to_string(class_weights.size()) + " class weights for " +
                     std::to_string(V) + " classes");
  }
  for (std::size_t c = 0; c < class_weights.size(); ++c) {
    if (!(std::isfinite(class_weights[c]) && class_weights[c] > 0.0f)) {
      throw std::invalid_argument("cross_entropy: class weight " + std::to_string(class_weights[c]) + " of class " +
                                  std::to_string(c) + " must be finite and > 0");
    }
  }
}

}  // namespace

Var cross_entropy(const Var& logits, const std::vector<int32_t>& targets, int32_t ignore_index,
                  float label_smoothing, const std::vector<float>& class_weights) {
  check_defined(logits, "cross_entropy", "logits");
  if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f)) {
    throw std::invalid_argument("cross_entropy: label_smoothing must be in [0, 1), got " +
                                std::to_string(label_smoothing));
  }
  if (logits.dim() < 1 || logits.size(-1) == 0) {
    throw ShapeError("cross_entropy: logits must be [..., V] with V > 0, got shape " +
                     shape_str(logits.shape()));
  }
  const int64_t V = logits.size(-1);
  const int64_t N = logits.numel() / V;
  if (static_cast<int64_t>(targets.size()) != N) {
    throw ShapeError("cross_entropy: logits " + shape_str(logits.shape()) + " have " + std::to_string(N) +
                     " rows but " + std::to_string(targets.size()) + " targets were given");
  }
  check_class_weights(class_weights, V);
  const double valid = valid_weight(targets, V, ignore_index, class_weights);
  const float* weights = class_weights.empty() ? nullptr : class_weights.data();

  Tensor losses({N});
  Tensor lse({N});
  kernels::cross_entropy_forward<float>(losses.data(), lse.data(), logits.data(), targets.data(), N, V, ignore_index,
                                        label_smoothing, weights);
  // Summed serially in double: order-fixed, and no float drift over many rows.
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) total += losses.data()[n];
  Var out(Tensor::scalar(valid > 0 ? static_cast<float>(total / valid) : 0.0f));

  record_op("cross_entropy", out, {&logits},
            [logits, lse, targets, ignore_index, label_smoothing, class_weights, valid, N, V](const Tensor& dout) {
    if (valid == 0) {  // nothing contributed: the gradient is zero
      logits.ensure_grad();
      return;
    }
    // Usually nothing else feeds the logits' gradient; it is then allocated uninitialised
    // and written rather than zero-filled and accumulated into.
    Var dst = logits;  // shares the gradient slot (the captured handle is const)
    const bool accumulate = dst.has_grad();
    if (!accumulate) dst.grad() = Tensor(logits.shape());
    const float dloss = dout.item() / static_cast<float>(valid);
    kernels::cross_entropy_backward<float>(dst.grad().data(), logits.data(), lse.data(), targets.data(), dloss, N,
                                           V, ignore_index, accumulate, label_smoothing,
                                           class_weights.empty() ? nullptr : class_weights.data());
  });
  return out;
}

}  // namespace tapelm
