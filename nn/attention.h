// Multi-head attention: self-attention with a fused QKV projection (optionally causal,
// optionally with RoPE and a KV cache) or cross-attention (queries from x, keys and values
// from an encoder's output), both on the fused attention op over [B, H, T, D].
#pragma once

#include <memory>
#include <vector>

#include <tapelm/autograd/rng.h>
#include <tapelm/nn/init.h>
#include <tapelm/nn/kv_cache.h>
#include <tapelm/nn/linear.h>
#include <tapelm/nn/module.h>
#include <tapelm/nn/rope.h>

namespace tapelm {

struct AttentionConfig {
  int64_t n_embd = 768;
  int64_t n_head = 12;  // must divide n_embd
  bool bias = true;     // biases on the projections
  bool causal = false;  // self-attention: position t sees keys at positions <= t only
  bool cross = false;   // cross-attention instead of self-attention
};

class MultiHeadAttention : public Module {
 public:
  // Self-attention parameters: `qkv` Linear(C, 3C) (rows: q, then k, then v) and `proj`.
  // Cross-attention: `q` Linear(C, C), `kv` Linear(C, 2C) (rows: k, then v), and `proj`.
  // `proj` weights ~ N(0, proj_init_std²). `rope` (self-attention only) rotates q and k.
  MultiHeadAttention(const AttentionConfig& cfg, Rng& rng, float proj_init_std = kInitStd,
                     std::shared_ptr<const RopeTable> rope = nullptr);

  // Self-attention. x: [B, T, C] → [B, T, C]. key_padding: [B · Tk] (1 = real token) or
  // empty, where Tk = T plus the cached length. With a cache, x holds the next positions
  // after the cached ones; its keys and values are appended to the cache (LayerKV::append).
  Var forward(const Var& x, const std::vector<uint8_t>& key_padding = {}, LayerKV* cache = nullptr) const;

  // Cross-attention. x: [B, Tq, C], memory: [B, Tk, C], memory_padding: [B · Tk] or empty.
  // With a cache, memory's keys and values are projected on the first call and reused by
  // later ones (incremental decoding against one encoder output).
  Var forward_cross(const Var& x, const Var& memory, const std::vector<uint8_t>& memory_padding = {},
                    LayerKV* cache = nullptr) const;

  const AttentionConfig& config() const { return cfg_; }

 private:
  Var split_heads(const Var& x) const;  // [B, T, C] → [B, H, T, D]
  Var merge_heads(const Var& x) const;  // [B, H, T, D] → [B, T, C]
  void check_input(const char* who, const Var& x) const;

  AttentionConfig cfg_;
  int64_t head_dim_;
  std::shared_ptr<const RopeTable> rope_;
  std::shared_ptr<Linear> qkv_;  // self-attention
  std::shared_ptr<Linear> q_;    // cross-attention
  std::shared_ptr<Linear> kv_;   // cross-attention
  std::shared_ptr<Linear> proj_;
};

}  // namespace tapelm
