// Scaled dot-product attention as one fused op over [B, H, T, D].
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/autograd/variable.h>

namespace tapelm {

struct AttentionMask {
  // Query i may attend to key j only if j <= i + (Tk - Tq): with a KV cache the Tq queries
  // are the last Tq positions of the Tk keys.
  bool causal = false;
  // [B * Tk], 1 = real token, 0 = padding (never attended to). Empty: no padding.
  std::vector<uint8_t> key_padding;
};

// q: [B, H, Tq, D], k and v: [B, H, Tk, D]. softmax(q·kᵀ·scale + mask)·v: [B, H, Tq, D].
// scale <= 0 means 1/sqrt(D). A query row whose keys are all masked outputs zeros.
// kv_length >= 0: k and v are buffers [B, H, capacity, D] (a KV cache with room to grow)
// whose first kv_length positions are the keys, read in place; Tk is then kv_length, and
// the positions past it get zero gradient.
Var attention(const Var& q, const Var& k, const Var& v, const AttentionMask& mask = {},
              float scale = 0.0f, int64_t kv_length = -1);

}  // namespace tapelm
