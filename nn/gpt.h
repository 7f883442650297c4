// GPT: a decoder-only language model — Backbone (token + positional embeddings, causal
// blocks, final norm) and an LM head `lm_head` [vocab, C] that, with tie_weights, is the
// token embedding itself (then no `lm_head.weight` exists).
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/autograd/loss.h>
#include <tapelm/nn/backbone.h>
#include <tapelm/nn/kv_cache.h>
#include <tapelm/nn/linear.h>

namespace tapelm {

struct GPTConfig : TransformerConfig {
  int64_t vocab_size = 50257;
  int64_t n_layer = 12;
  bool tie_weights = true;  // LM head shares the token embedding matrix
};

class GPT : public Backbone {
 public:
  explicit GPT(const GPTConfig& cfg);

  // ids: B·T token ids, row-major [B, T]; padding: [B·T] (1 = real) or empty.
  // cache: feed a prompt, then one (or more) new tokens per call; positions continue
  // from cache->length(). → logits [B, T, vocab_size].
  Var forward(const std::vector<int32_t>& ids, int64_t B, int64_t T, const std::vector<uint8_t>& padding = {},
              KVCache* cache = nullptr) const;

  // Mean next-token cross-entropy of forward(ids) against targets (B·T ids; entries equal
  // to ignore_index do not count; label_smoothing as in cross_entropy, autograd/loss.h).
  Var loss(const std::vector<int32_t>& ids, const std::vector<int32_t>& targets, int64_t B, int64_t T,
           const std::vector<uint8_t>& padding = {}, int32_t ignore_index = kIgnoreIndex,
           float label_smoothing = 0.0f) const;

  const GPTConfig& config() const { return cfg_; }

 private:
  GPTConfig cfg_;
  std::shared_ptr<Linear> lm_head_;  // null when tied
};

}  // namespace tapelm
