// SequenceClassifier: a Backbone (causal GPT-style by default, or bidirectional) whose
// hidden states are pooled to one vector per sequence — the last real token, the mean over
// real tokens, or the first token — and mapped by `head` Linear(C, n_classes) to logits.
// Backbone keys match GPT's, so a pretrained GPT checkpoint (minus lm_head) loads into it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <tapelm/data/enum_names.h>
#include <tapelm/nn/backbone.h>
#include <tapelm/nn/linear.h>

namespace tapelm {

enum class Pooling { Last, Mean, First };

// last | mean | first.
template <>
const EnumNames<Pooling>& enum_names<Pooling>();

struct SequenceClassifierConfig : TransformerConfig {
  int64_t vocab_size = 50257;
  int64_t n_layer = 12;
  int64_t n_classes = 2;
  Pooling pooling = Pooling::Last;
  // Causal attention as in GPT; with causal, Pooling::First would see only the first token
  // and is rejected.
  bool causal = true;
};

class SequenceClassifier : public Backbone {
 public:
  explicit SequenceClassifier(const SequenceClassifierConfig& cfg);

  // ids: B·T token ids; padding: [B·T] (1 = real token) or empty; every row needs at least
  // one real token. Padding may sit anywhere in a row (Last takes the last real token).
  // → logits [B, n_classes].
  Var forward(const std::vector<int32_t>& ids, int64_t B, int64_t T, const std::vector<uint8_t>& padding = {}) const;

  // Mean cross-entropy of forward(ids) against labels (B values in [0, n_classes));
  // label_smoothing and class_weights (a weighted mean) as in cross_entropy (autograd/loss.h).
  Var loss(const std::vector<int32_t>& ids, const std::vector<int32_t>& labels, int64_t B, int64_t T,
           const std::vector<uint8_t>& padding = {}, float label_smoothing = 0.0f,
           const std::vector<float>& class_weights = {}) const;

  const SequenceClassifierConfig& config() const { return cfg_; }

 private:
  Var pool(const Var& hidden, int64_t B, int64_t T, const std::vector<uint8_t>& padding) const;

  SequenceClassifierConfig cfg_;
  std::shared_ptr<Linear> head_;
};

}  // namespace tapelm
