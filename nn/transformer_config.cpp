// Validation of the shared architecture settings.
#include <tapelm/nn/transformer_config.h>

#include <stdexcept>
#include <string>

namespace tapelm {

namespace {

[[noreturn]] void fail(const char* who, const std::string& what) {
  throw std::invalid_argument(std::string(who) + ": " + what);
}

}  // namespace

void validate(const TransformerConfig& cfg, const char* who) {
  if (cfg.n_embd <= 0) fail(who, "n_embd must be positive, got " + std::to_string(cfg.n_embd));
  if (cfg.n_head <= 0 || cfg.n_embd % cfg.n_head != 0) {
    fail(who, "n_head = " + std::to_string(cfg.n_head) + " must be positive and divide n_embd = " +
                  std::to_string(cfg.n_embd));
  }
  if (cfg.ffn_hidden < 0) {
    fail(who, "ffn_hidden must be positive (or 0 for the default), got " + std::to_string(cfg.ffn_hidden));
  }
  if (!(cfg.norm_eps > 0.0f)) fail(who, "norm_eps must be > 0, got " + std::to_string(cfg.norm_eps));
  if (!(cfg.dropout >= 0.0f && cfg.dropout < 1.0f)) {
    fail(who, "dropout must be in [0, 1), got " + std::to_string(cfg.dropout));
  }
  if (cfg.ctx_len <= 0) fail(who, "ctx_len must be positive, got " + std::to_string(cfg.ctx_len));
  if (cfg.pos_encoding == PositionalKind::Rope) {
    const int64_t head_dim = cfg.n_embd / cfg.n_head;
    if (head_dim % 2 != 0) {
      fail(who, "rotary positions need an even head dimension, got n_embd / n_head = " +
                    std::to_string(cfg.n_embd) + " / " + std::to_string(cfg.n_head) + " = " +
                    std::to_string(head_dim));
    }
    if (!(cfg.rope_base > 0.0f)) fail(who, "rope_base must be > 0, got " + std::to_string(cfg.rope_base));
  }
  if (cfg.pos_encoding == PositionalKind::Sinusoidal && !(cfg.sinusoidal_base > 0.0f)) {
    fail(who, "sinusoidal_base must be > 0, got " + std::to_string(cfg.sinusoidal_base));
  }
}

FeedForwardConfig feed_forward_config(const TransformerConfig& cfg) {
  FeedForwardConfig f;
  f.n_embd = cfg.n_embd;
  f.ffn_hidden = cfg.ffn_hidden;
  f.ffn = cfg.ffn;
  f.gelu_approximation = cfg.gelu_approximation;
  f.bias = cfg.bias;
  return f;
}

}  // namespace tapelm
