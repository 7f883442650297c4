// Multi-head self- and cross-attention.
#include <tapelm/nn/attention.h>

#include <stdexcept>
#include <string>

#include <tapelm/autograd/attention.h>
#include <tapelm/autograd/errors.h>
#include <tapelm/autograd/shape_ops.h>

namespace tapelm {

namespace {

void check_padding_size(const char* who, const std::vector<uint8_t>& padding, int64_t B, int64_t T) {
  if (!padding.empty() && static_cast<int64_t>(padding.size()) != B * T) {
    throw ShapeError(std::string(who) + ": key padding mask has " + std::to_string(padding.size()) +
                     " entries, expected B·Tk = " + std::to_string(B) + "·" + std::to_string(T));
  }
}

}  // namespace

MultiHeadAttention::MultiHeadAttention(const AttentionConfig& cfg, Rng& rng, float proj_init_std,
                                       std::shared_ptr<const RopeTable> rope)
    : cfg_(cfg), rope_(std::move(rope)) {
  if (cfg.n_embd <= 0 || cfg.n_head <= 0 || cfg.n_embd % cfg.n_head != 0) {
    throw std::invalid_argument("MultiHeadAttention: n_head = " + std::to_string(cfg.n_head) +
                                " must be positive and divide n_embd = " + std::to_string(cfg.n_embd));
  }
  head_dim_ = cfg.n_embd / cfg.n_head;
  if (cfg.cross && cfg.causal) {
    throw std::invalid_argument("MultiHeadAttention: cross-attention cannot be causal");
  }
  if (rope_ && (cfg.cross || rope_->head_dim() != head_dim_)) {
    throw std::invalid_argument("MultiHeadAttention: RoPE needs self-attention and a table of head_dim " +
                                std::to_string(head_dim_) + ", got head_dim " + std::to_string(rope_->head_dim()) +
                                (cfg.cross ? " on cross-attention" : ""));
  }
  const int64_t C = cfg.n_embd;
  if (cfg.cross) {
    q_ = register_module("q", std::make_shared<Linear>(C, C, cfg.bias, rng));
    kv_ = register_module("kv", std::make_shared<Linear>(C, 2 * C, cfg.bias, rng));
  } else {
    qkv_ = register_module("qkv", std::make_shared<Linear>(C, 3 * C, cfg.bias, rng));
  }
  proj_ = register_module("proj", std::make_shared<Linear>(C, C, cfg.bias, rng, proj_init_std));
}

void MultiHeadAttention::check_input(const char* who, const Var& x) const {
  if (x.dim() != 3 || x.size(2) != cfg_.n_embd) {
    throw ShapeError(std::string(who) + ": expected [B, T, " + std::to_string(cfg_.n_embd) +
                     "], got " + shape_str(x.shape()));
  }
}

Var MultiHeadAttention::split_heads(const Var& x) const {
  return permute(reshape(x, {x.size(0), x.size(1), cfg_.n_head, head_dim_}), {0, 2, 1, 3});
}

Var MultiHeadAttention::merge_heads(const Var& x) const {
  return reshape(permute(x, {0, 2, 1, 3}), {x.size(0), x.size(2), cfg_.n_embd});
}

Var MultiHeadAttention::forward(const Var& x, const std::vector<uint8_t>& key_padding, LayerKV* cache) const {
  if (cfg_.cross) throw std::logic_error("MultiHeadAttention::forward: this is a cross-attention layer; call forward_cross");
  check_input("MultiHeadAttention::forward", x);
  const int64_t C = cfg_.n_embd;
  const int64_t past = cache ? cache->length : 0;
  if (past > 0 && cache->k.size(0) != x.size(0)) {
    throw ShapeError("MultiHeadAttention::forward: batch of " + std::to_string(x.size(0)) +
                     " rows, but the KV cache holds " + std::to_string(cache->k.size(0)));
  }
  check_padding_size("MultiHeadAttention::forward", key_padding, x.size(0), past + x.size(1));

  std::vector<Var> qkv = split(qkv_->forward(x), {C, C, C}, 2);
  Var q = split_heads(qkv[0]);
  Var k = split_heads(qkv[1]);
  Var v = split_heads(qkv[2]);
  if (rope_) {
    q = rope(q, *rope_, past);
    k = rope(k, *rope_, past);
  }
  AttentionMask mask;
  mask.causal = cfg_.causal;
  mask.key_padding = key_padding;
  if (!cache) return proj_->forward(merge_heads(attention(q, k, v, mask)));
  cache->append(k, v);
  return proj_->forward(merge_heads(attention(q, cache->k, cache->v, mask, 0.0f, cache->length)));
}

Var MultiHeadAttention::forward_cross(const Var& x, const Var& memory, const std::vector<uint8_t>& memory_padding,
                                      LayerKV* cache) const {
  if (!cfg_.cross) throw std::logic_error("MultiHeadAttention::forward_cross: this is a self-attention layer");
  check_input("MultiHeadAttention::forward_cross (x)", x);
  check_input("MultiHeadAttention::forward_cross (memory)", memory);
  if (memory.size(0) != x.size(0)) {
    throw ShapeError("MultiHeadAttention::forward_cross: x has batch " + std::to_string(x.size(0)) +
                     " but memory has batch " + std::to_string(memory.size(0)));
  }
  check_padding_size("MultiHeadAttention::forward_cross", memory_padding, memory.size(0), memory.size(1));
  const int64_t C = cfg_.n_embd;
  const bool cached = cache && cache->cross_k.defined();
  if (cached && (cache->cross_k.size(0) != memory.size(0) || cache->cross_k.size(2) != memory.size(1))) {
    throw ShapeError("MultiHeadAttention::forward_cross: memory " + shape_str(memory.shape()) +
                     " does not match the cached keys " + shape_str(cache->cross_k.shape()) +
                     " [B, H, S, D] (clear the cache for a new source)");
  }
  Var k, v;
  if (cached) {
    k = cache->cross_k;
    v = cache->cross_v;
  } else {
    std::vector<Var> kv = split(kv_->forward(memory), {C, C}, 2);
    k = split_heads(kv[0]);
    v = split_heads(kv[1]);
    if (cache) {
      cache->cross_k = k;
      cache->cross_v = v;
    }
  }
  AttentionMask mask;
  mask.key_padding = memory_padding;
  return proj_->forward(merge_heads(attention(split_heads(q_->forward(x)), k, v, mask)));
}

}  // namespace tapelm
