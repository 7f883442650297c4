// A 2-layer GPT config small enough for tests that run a model end to end (generation,
// evaluation). Dropout is on, so a forward pass that forgot eval mode shows in the results.
#pragma once

#include <cstdint>

#include <tapelm/nn/gpt.h>

namespace tapelm::testing {

inline GPTConfig tiny_gpt(int64_t ctx_len) {
  GPTConfig cfg;
  cfg.vocab_size = 40;
  cfg.n_layer = 2;
  cfg.n_embd = 32;
  cfg.n_head = 4;
  cfg.ctx_len = ctx_len;
  cfg.dropout = 0.1f;
  cfg.seed = 3;
  return cfg;
}

}  // namespace tapelm::testing
