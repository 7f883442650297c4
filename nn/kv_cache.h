// KV cache for incremental decoding: the keys and values of every layer for the positions
// already seen, so feeding one new token at a time attends to the past without
// recomputing it. Meant for generation (typically under NoGradGuard); gradients still
// flow correctly through cached entries if a caller records a tape across steps.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/variable.h"

namespace tapelm {

// One layer's cached keys and values, [B, H, T_past, D] each (undefined while empty).
struct LayerKV {
  Var k;
  Var v;
};

class KVCache {
 public:
  int64_t length() const { return length_; }  // positions cached so far
  int64_t batch() const { return batch_; }
  void clear();

  LayerKV& layer(int64_t i);  // grows to i + 1 layers on demand

  // For a step feeding T new positions of a batch of B rows: checks B against earlier steps
  // and returns the key padding mask over all past + T positions ([B · (length + T)],
  // empty when neither past nor new tokens were ever masked). Records it for later steps.
  std::vector<uint8_t> extend_padding(const std::vector<uint8_t>& padding, int64_t B, int64_t T);
  // Marks the T positions of the current step as cached (after every layer has run).
  void advance(int64_t T) { length_ += T; }

 private:
  std::vector<LayerKV> layers_;
  std::vector<uint8_t> key_padding_;  // [B · length] or empty (all real)
  int64_t length_ = 0;
  int64_t batch_ = 0;
};

}  // namespace tapelm
