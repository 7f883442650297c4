// Model assembly helpers and the layer stack.
#include <tapelm/nn/transformer_stack.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include <tapelm/autograd/elementwise.h>
#include <tapelm/nn/init.h>

namespace tapelm {

LayerContext make_layer_context(const TransformerConfig& cfg, Rng& init_rng, std::shared_ptr<DropoutSource> dropout,
                                int64_t n_layer) {
  LayerContext ctx;
  ctx.init_rng = &init_rng;
  ctx.residual_init_std = residual_init_std(n_layer);
  ctx.dropout = std::move(dropout);
  if (cfg.pos_encoding == PositionalKind::Rope) {
    ctx.rope = std::make_shared<const RopeTable>(cfg.ctx_len, cfg.n_embd / cfg.n_head, cfg.rope_base);
  }
  return ctx;
}

std::shared_ptr<LayerList> make_layers(const TransformerConfig& cfg, const LayerContext& ctx, int64_t n_layer,
                                       bool causal, bool cross_attention) {
  if (n_layer <= 0) throw std::invalid_argument("make_layers: n_layer must be positive, got " + std::to_string(n_layer));
  if (!causal && cross_attention) {
    throw std::invalid_argument("make_layers: cross-attention layers are decoder layers and must be causal");
  }
  auto layers = std::make_shared<LayerList>();
  for (int64_t i = 0; i < n_layer; ++i) {
    if (causal) {
      layers->push_back(std::make_shared<DecoderLayer>(cfg, ctx, cross_attention));
    } else {
      layers->push_back(std::make_shared<EncoderLayer>(cfg, ctx));
    }
  }
  return layers;
}

std::shared_ptr<Norm> make_final_norm(const TransformerConfig& cfg) {
  return cfg.pre_ln ? make_norm(cfg.norm, cfg.n_embd, cfg.norm_eps) : nullptr;
}

Var run_layers(const LayerList& layers, const Norm* ln_f, const Var& x, const std::vector<uint8_t>& key_padding,
               KVCache* cache, const Var& memory, const std::vector<uint8_t>& memory_padding) {
  Var h = x;
  for (int64_t i = 0; i < layers.size(); ++i) {
    h = layers[i].forward(h, key_padding, cache ? &cache->layer(i) : nullptr, memory, memory_padding);
  }
  return ln_f ? ln_f->forward(h) : h;
}

Var embed_tokens(const TransformerConfig& cfg, const Embedding& tok_emb, const PositionalEncoding& pos_emb,
                 const Dropout& drop, const std::vector<int32_t>& ids, int64_t B, int64_t T, int64_t start) {
  Var x = tok_emb.forward(ids, {B, T});
  if (cfg.scale_embeddings) x = mul(x, std::sqrt(static_cast<float>(cfg.n_embd)));
  return drop.forward(pos_emb.forward(x, start));
}

TransformerStack::TransformerStack(const TransformerConfig& cfg, const LayerContext& ctx, int64_t n_layer,
                                   bool causal, bool cross_attention) {
  blocks_ = register_module("blocks", make_layers(cfg, ctx, n_layer, causal, cross_attention));
  if (auto norm = make_final_norm(cfg)) ln_f_ = register_module("ln_f", norm);
}

Var TransformerStack::forward(const Var& x, const std::vector<uint8_t>& key_padding, KVCache* cache,
                              const Var& memory, const std::vector<uint8_t>& memory_padding) const {
  return run_layers(*blocks_, ln_f_.get(), x, key_padding, cache, memory, memory_padding);
}

}  // namespace tapelm
