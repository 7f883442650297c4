// The pieces every model is assembled from: the input end (token embedding, optional
// √n_embd scale, positional encoding, dropout), the layer stack, and — in pre-LN models
// only, since a post-LN block already ends in a norm — the final norm `ln_f`.
// TransformerStack packages layers + ln_f as one module (the encoder and decoder of
// EncoderDecoder); decoder-only models register the same parts at their top level so
// their checkpoint keys read GPT-2-like (`blocks.0...`, `ln_f.weight`).
#pragma once

#include <memory>
#include <vector>

#include <tapelm/autograd/rng.h>
#include <tapelm/nn/dropout.h>
#include <tapelm/nn/embedding.h>
#include <tapelm/nn/kv_cache.h>
#include <tapelm/nn/module.h>
#include <tapelm/nn/module_list.h>
#include <tapelm/nn/norm.h>
#include <tapelm/nn/positional.h>
#include <tapelm/nn/transformer_config.h>
#include <tapelm/nn/transformer_layer.h>

namespace tapelm {

using LayerList = ModuleList<TransformerLayer>;

// Context for the layers of a stack of depth n_layer: GPT-2 residual init scale, and the
// RoPE table when cfg.pos_encoding is Rope.
LayerContext make_layer_context(const TransformerConfig& cfg, Rng& init_rng, std::shared_ptr<DropoutSource> dropout,
                                int64_t n_layer);

// n_layer EncoderLayers (causal = false, no cross-attention) or DecoderLayers.
std::shared_ptr<LayerList> make_layers(const TransformerConfig& cfg, const LayerContext& ctx, int64_t n_layer,
                                       bool causal, bool cross_attention);

// The final norm for pre-LN configs; null for post-LN.
std::shared_ptr<Norm> make_final_norm(const TransformerConfig& cfg);

// Runs every layer in order (layer i uses cache->layer(i) when a cache is given), then ln_f if any.
Var run_layers(const LayerList& layers, const Norm* ln_f, const Var& x, const std::vector<uint8_t>& key_padding,
               KVCache* cache, const Var& memory, const std::vector<uint8_t>& memory_padding);

// drop(tok_emb(ids)·(√C if cfg.scale_embeddings) + PE[start : start+T]): [B, T, C].
Var embed_tokens(const TransformerConfig& cfg, const Embedding& tok_emb, const PositionalEncoding& pos_emb,
                 const Dropout& drop, const std::vector<int32_t>& ids, int64_t B, int64_t T, int64_t start = 0);

class TransformerStack : public Module {
 public:
  // Parameters: `blocks.{i}.*` and, for pre-LN, `ln_f`.
  TransformerStack(const TransformerConfig& cfg, const LayerContext& ctx, int64_t n_layer, bool causal,
                   bool cross_attention);

  Var forward(const Var& x, const std::vector<uint8_t>& key_padding = {}, KVCache* cache = nullptr,
              const Var& memory = Var(), const std::vector<uint8_t>& memory_padding = {}) const;

  const LayerList& blocks() const { return *blocks_; }

 private:
  std::shared_ptr<LayerList> blocks_;
  std::shared_ptr<Norm> ln_f_;
};

}  // namespace tapelm
