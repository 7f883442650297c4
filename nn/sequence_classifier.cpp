// Sequence classification: pooling over the backbone's hidden states, then a linear head.
#include <tapelm/nn/sequence_classifier.h>

#include <stdexcept>
#include <string>

#include <tapelm/autograd/errors.h>
#include <tapelm/autograd/loss.h>
#include <tapelm/autograd/matmul.h>
#include <tapelm/autograd/shape_ops.h>

namespace tapelm {

template <>
const EnumNames<Pooling>& enum_names<Pooling>() {
  static const EnumNames<Pooling> names("pooling",
                                        {{Pooling::Last, "last"}, {Pooling::Mean, "mean"}, {Pooling::First, "first"}});
  return names;
}

namespace {

int64_t real_tokens_in_row(const std::vector<uint8_t>& padding, int64_t b, int64_t T) {
  if (padding.empty()) return T;
  int64_t n = 0;
  for (int64_t t = 0; t < T; ++t) n += padding[b * T + t];
  return n;
}

}  // namespace

SequenceClassifier::SequenceClassifier(const SequenceClassifierConfig& cfg)
    : Backbone(cfg, cfg.vocab_size, cfg.n_layer, cfg.causal, "SequenceClassifier"), cfg_(cfg) {
  if (cfg.n_classes <= 0) {
    throw std::invalid_argument("SequenceClassifier: n_classes must be positive, got " + std::to_string(cfg.n_classes));
  }
  if (cfg.causal && cfg.pooling == Pooling::First) {
    throw std::invalid_argument(
        "SequenceClassifier: first-token pooling with a causal backbone sees only the first token; "
        "use Last or Mean pooling, or causal = false");
  }
  head_ = register_module("head", std::make_shared<Linear>(cfg.n_embd, cfg.n_classes, true, init_rng()));
}

Var SequenceClassifier::pool(const Var& hidden, int64_t B, int64_t T, const std::vector<uint8_t>& padding) const {
  const int64_t C = hidden.size(2);
  for (int64_t b = 0; b < B; ++b) {
    if (real_tokens_in_row(padding, b, T) == 0) {
      throw std::invalid_argument("SequenceClassifier::forward: row " + std::to_string(b) +
                                  " of the batch is all padding; nothing to classify");
    }
  }
  if (cfg_.pooling == Pooling::Mean) {
    // weights [B, 1, T] = mask / count, so weights·hidden is the mean over real tokens.
    Tensor w({B, 1, T});
    for (int64_t b = 0; b < B; ++b) {
      const float inv = 1.0f / static_cast<float>(real_tokens_in_row(padding, b, T));
      for (int64_t t = 0; t < T; ++t) w.data()[b * T + t] = padding.empty() || padding[b * T + t] ? inv : 0.0f;
    }
    return reshape(matmul(Var(w), hidden), {B, C});
  }
  std::vector<int32_t> rows(static_cast<std::size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    int64_t t = 0;
    if (cfg_.pooling == Pooling::Last) {
      t = T - 1;
      while (!padding.empty() && padding[b * T + t] == 0) --t;
    }
    rows[b] = static_cast<int32_t>(b * T + t);
  }
  return index_select(reshape(hidden, {B * T, C}), 0, rows);
}

Var SequenceClassifier::forward(const std::vector<int32_t>& ids, int64_t B, int64_t T,
                                const std::vector<uint8_t>& padding) const {
  const Var h = hidden_states(ids, B, T, padding);
  return head_->forward(pool(h, B, T, padding));
}

Var SequenceClassifier::loss(const std::vector<int32_t>& ids, const std::vector<int32_t>& labels, int64_t B,
                             int64_t T, const std::vector<uint8_t>& padding, float label_smoothing,
                             const std::vector<float>& class_weights) const {
  if (static_cast<int64_t>(labels.size()) != B) {
    throw ShapeError("SequenceClassifier::loss: " + std::to_string(labels.size()) +
                     " labels for a batch of " + std::to_string(B));
  }
  for (int64_t b = 0; b < B; ++b) {
    if (labels[b] < 0 || labels[b] >= cfg_.n_classes) {
      throw IndexError("SequenceClassifier::loss: label " + std::to_string(labels[b]) + " of row " +
                       std::to_string(b) + " is outside [0, " + std::to_string(cfg_.n_classes) + ")");
    }
  }
  return cross_entropy(forward(ids, B, T, padding), labels, kIgnoreIndex, label_smoothing, class_weights);
}

}  // namespace tapelm
