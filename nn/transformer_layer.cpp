// Residual sublayers of the encoder and decoder blocks.
#include <tapelm/nn/transformer_layer.h>

#include <stdexcept>

#include <tapelm/autograd/elementwise.h>

namespace tapelm {

TransformerLayer::TransformerLayer(const TransformerConfig& cfg, const LayerContext& ctx, bool causal,
                                   bool cross_attention)
    : pre_ln_(cfg.pre_ln) {
  validate(cfg, "TransformerLayer");
  if (!ctx.init_rng || !ctx.dropout) {
    throw std::invalid_argument("TransformerLayer: LayerContext lacks its init Rng or DropoutSource");
  }
  Rng& rng = *ctx.init_rng;
  AttentionConfig self_cfg;
  self_cfg.n_embd = cfg.n_embd;
  self_cfg.n_head = cfg.n_head;
  self_cfg.bias = cfg.bias;
  self_cfg.causal = causal;

  ln1_ = register_module("ln1", make_norm(cfg.norm, cfg.n_embd, cfg.norm_eps));
  attn_ = register_module("attn", std::make_shared<MultiHeadAttention>(self_cfg, rng, ctx.residual_init_std, ctx.rope));
  if (cross_attention) {
    AttentionConfig cross_cfg = self_cfg;
    cross_cfg.causal = false;
    cross_cfg.cross = true;
    ln_cross_ = register_module("ln_cross", make_norm(cfg.norm, cfg.n_embd, cfg.norm_eps));
    cross_attn_ = register_module("cross_attn", std::make_shared<MultiHeadAttention>(cross_cfg, rng, ctx.residual_init_std));
  }
  ln2_ = register_module("ln2", make_norm(cfg.norm, cfg.n_embd, cfg.norm_eps));
  ffn_ = register_module("ffn", std::make_shared<FeedForward>(feed_forward_config(cfg), rng, ctx.residual_init_std));
  drop_ = register_module("drop", std::make_shared<Dropout>(cfg.dropout, ctx.dropout));
}

Var TransformerLayer::residual(const Var& x, const Norm& norm, const std::function<Var(const Var&)>& f) const {
  if (pre_ln_) return add(x, drop_->forward(f(norm.forward(x))));
  return norm.forward(add(x, drop_->forward(f(x))));
}

Var TransformerLayer::forward(const Var& x, const std::vector<uint8_t>& key_padding, LayerKV* cache,
                              const Var& memory, const std::vector<uint8_t>& memory_padding) const {
  if (cross_attn_ && !memory.defined()) {
    throw std::invalid_argument("TransformerLayer::forward: a cross-attention layer needs the encoder output (memory)");
  }
  if (!cross_attn_ && memory.defined()) {
    throw std::invalid_argument("TransformerLayer::forward: memory given to a layer without cross-attention");
  }
  Var h = residual(x, *ln1_, [&](const Var& in) { return attn_->forward(in, key_padding, cache); });
  if (cross_attn_) {
    h = residual(h, *ln_cross_, [&](const Var& in) { return cross_attn_->forward_cross(in, memory, memory_padding, cache); });
  }
  return residual(h, *ln2_, [&](const Var& in) { return ffn_->forward(in); });
}

EncoderLayer::EncoderLayer(const TransformerConfig& cfg, const LayerContext& ctx)
    : TransformerLayer(cfg, ctx, /*causal=*/false, /*cross_attention=*/false) {}

Var EncoderLayer::forward(const Var& x, const std::vector<uint8_t>& padding) const {
  return TransformerLayer::forward(x, padding, nullptr, Var(), {});
}

DecoderLayer::DecoderLayer(const TransformerConfig& cfg, const LayerContext& ctx, bool cross_attention)
    : TransformerLayer(cfg, ctx, /*causal=*/true, cross_attention) {}

Var DecoderLayer::forward(const Var& x, const Var& memory, const std::vector<uint8_t>& memory_padding,
                          const std::vector<uint8_t>& padding, LayerKV* cache) const {
  return TransformerLayer::forward(x, padding, cache, memory, memory_padding);
}

}  // namespace tapelm
