// GPT language model.
#include <tapelm/nn/gpt.h>

#include <stdexcept>
#include <string>

#include <tapelm/autograd/errors.h>
#include <tapelm/autograd/matmul.h>

namespace tapelm {

GPT::GPT(const GPTConfig& cfg) : Backbone(cfg, cfg.vocab_size, cfg.n_layer, /*causal=*/true, "GPT"), cfg_(cfg) {
  if (!cfg.tie_weights) {
    lm_head_ = register_module("lm_head", std::make_shared<Linear>(cfg.n_embd, cfg.vocab_size, false, init_rng()));
  }
}

Var GPT::forward(const std::vector<int32_t>& ids, int64_t B, int64_t T, const std::vector<uint8_t>& padding,
                 KVCache* cache) const {
  const Var h = hidden_states(ids, B, T, padding, cache);
  return lm_head_ ? lm_head_->forward(h) : linear(h, token_embedding().weight(), Var());
}

Var GPT::loss(const std::vector<int32_t>& ids, const std::vector<int32_t>& targets, int64_t B, int64_t T,
              const std::vector<uint8_t>& padding, int32_t ignore_index, float label_smoothing) const {
  if (static_cast<int64_t>(targets.size()) != B * T) {
    throw ShapeError("GPT::loss: " + std::to_string(targets.size()) + " targets, expected B·T = " +
                     std::to_string(B * T));
  }
  return cross_entropy(forward(ids, B, T, padding), targets, ignore_index, label_smoothing);
}

}  // namespace tapelm
