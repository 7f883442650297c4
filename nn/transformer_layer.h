// Transformer layers. TransformerLayer is the general block — self-attention (causal or
// not), optional cross-attention, feed-forward — each sublayer wrapped in a residual with
// dropout, normalised pre-LN (x + f(norm(x))) or post-LN (norm(x + f(x))).
// EncoderLayer: bidirectional self-attention → FFN.
// DecoderLayer: masked self-attention → cross-attention → FFN; without cross-attention it
// is the GPT block.
// Parameter names: ln1, attn, [ln_cross, cross_attn,] ln2, ffn.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <tapelm/autograd/rng.h>
#include <tapelm/nn/attention.h>
#include <tapelm/nn/dropout.h>
#include <tapelm/nn/feed_forward.h>
#include <tapelm/nn/kv_cache.h>
#include <tapelm/nn/module.h>
#include <tapelm/nn/norm.h>
#include <tapelm/nn/rope.h>
#include <tapelm/nn/transformer_config.h>

namespace tapelm {

// What the layers of one model share.
struct LayerContext {
  Rng* init_rng = nullptr;          // weights are drawn from here in construction order
  float residual_init_std = kInitStd;  // std of attn.proj / cross_attn.proj / ffn.fc2 weights
  std::shared_ptr<DropoutSource> dropout;  // one per model
  std::shared_ptr<const RopeTable> rope;  // set iff positions are rotary
};

class TransformerLayer : public Module {
 public:
  TransformerLayer(const TransformerConfig& cfg, const LayerContext& ctx, bool causal, bool cross_attention);

  // x: [B, T, C] → [B, T, C]. key_padding: [B · Tk] or empty (Tk = T + cached length).
  // cache: this layer's KV cache entry (self-attention keys and values, and the
  // cross-attention ones of `memory`), or null. memory / memory_padding: the encoder
  // output [B, S, C] and its mask [B · S] (cross-attention layers only).
  Var forward(const Var& x, const std::vector<uint8_t>& key_padding, LayerKV* cache, const Var& memory,
              const std::vector<uint8_t>& memory_padding) const;

  bool has_cross_attention() const { return cross_attn_ != nullptr; }

 private:
  // The residual wrapper around one sublayer f, in the configured norm placement.
  Var residual(const Var& x, const Norm& norm, const std::function<Var(const Var&)>& f) const;

  bool pre_ln_;
  std::shared_ptr<Norm> ln1_;
  std::shared_ptr<MultiHeadAttention> attn_;
  std::shared_ptr<Norm> ln_cross_;
  std::shared_ptr<MultiHeadAttention> cross_attn_;
  std::shared_ptr<Norm> ln2_;
  std::shared_ptr<FeedForward> ffn_;
  std::shared_ptr<Dropout> drop_;
};

class EncoderLayer : public TransformerLayer {
 public:
  EncoderLayer(const TransformerConfig& cfg, const LayerContext& ctx);
  // x: [B, T, C]; padding: [B · T] (1 = real token) or empty.
  Var forward(const Var& x, const std::vector<uint8_t>& padding = {}) const;
};

class DecoderLayer : public TransformerLayer {
 public:
  DecoderLayer(const TransformerConfig& cfg, const LayerContext& ctx, bool cross_attention = true);
  // x: [B, T, C]; memory: the encoder output [B, S, C] (undefined Var without cross-attention);
  // memory_padding: [B · S] or empty; padding: x's own mask over the Tk keys, or empty.
  Var forward(const Var& x, const Var& memory = Var(), const std::vector<uint8_t>& memory_padding = {},
              const std::vector<uint8_t>& padding = {}, LayerKV* cache = nullptr) const;
};

}  // namespace tapelm
