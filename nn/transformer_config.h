// TransformerConfig: the architecture fields every model shares (widths, heads, FFN and
// norm kinds, norm placement, positions, dropout, seed). Model configs (GPTConfig,
// EncoderDecoderConfig, SequenceClassifierConfig) extend it with vocabularies and depths.
// Defaults follow GPT-2 small.
#pragma once

#include <cstdint>

#include <tapelm/nn/feed_forward.h>
#include <tapelm/nn/norm.h>
#include <tapelm/nn/positional.h>

namespace tapelm {

struct TransformerConfig {
  int64_t n_embd = 768;
  int64_t n_head = 12;    // must divide n_embd
  int64_t ffn_hidden = 0; // FFN hidden width; 0 = default for the FFN kind (see FeedForwardConfig)
  FfnKind ffn = FfnKind::Gelu;
  GeluApproximation gelu_approximation = GeluApproximation::Tanh;  // FfnKind::Gelu only
  NormKind norm = NormKind::LayerNorm;
  float norm_eps = 1e-5f;
  bool pre_ln = true;     // pre-LN (GPT-2) or post-LN (the original Transformer)
  float dropout = 0.0f;   // on embeddings and on every sublayer output before the residual add
  bool bias = true;       // biases in the attention and FFN projections
  int64_t ctx_len = 1024; // longest sequence (positions 0 .. ctx_len-1)
  PositionalKind pos_encoding = PositionalKind::Learned;
  float rope_base = 10000.0f;     // θ_i = rope_base^(-2i/head_dim), Rope only
  float sinusoidal_base = 10000.0f;  // θ_i = sinusoidal_base^(-2i/n_embd), Sinusoidal only
  bool scale_embeddings = false;  // multiply token embeddings by sqrt(n_embd) (the original Transformer)
  uint64_t seed = 0;              // initialisation stream and dropout masks
};

// Throws std::invalid_argument naming `who` and the offending field for any inconsistency.
void validate(const TransformerConfig& cfg, const char* who);

// The FFN settings implied by cfg.
FeedForwardConfig feed_forward_config(const TransformerConfig& cfg);

}  // namespace tapelm
