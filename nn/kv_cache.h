// KV cache for incremental decoding: the keys and values of every layer for the positions
// already seen, so feeding one new token at a time attends to the past without
// recomputing it, and (encoder-decoder models) each cross-attention layer's keys and
// values of the encoder output, projected once per source instead of once per step.
//
// Without a tape (under NoGradGuard, how generation runs) the self-attention keys and
// values live in buffers with room to grow: new positions are written in place and the
// attention op reads the filled prefix, and a full buffer doubles its capacity, so
// generating n tokens copies O(n) keys instead of the O(n²) of concatenating every step;
// the capacity never exceeds the positions the model can attend to (max_length).
// While a tape records, each step concatenates instead, so gradients flow correctly
// through cached entries if a caller records across steps.
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/autograd/variable.h>

namespace tapelm {

// One layer's cache.
struct LayerKV {
  // Self-attention keys and values, [B, H, capacity, D] each (undefined while empty); the
  // first `length` positions are filled.
  Var k;
  Var v;
  int64_t length = 0;
  // Cross-attention keys and values of the encoder output, [B, H, S, D] (undefined until
  // the first decoding step).
  Var cross_k;
  Var cross_v;
  int64_t max_length = 0;  // the cache's max_length (0 = no bound)

  // Appends the keys and values of T new positions, [B, H, T, D] each (B, H and D as
  // cached so far): in place when no tape records and there is room, otherwise as above.
  void append(const Var& new_k, const Var& new_v);
};

class KVCache {
 public:
  // `max_length`: the most positions a decode caches (the model's ctx_len); buffers start at
  // min(64, max_length) positions and double up to it. 0 = no bound. Beam search over 500
  // hypotheses of a 40-position model held buffers of 64 positions before (279 MB of KV
  // buffers for the g2p model, 35% of it room never used).
  explicit KVCache(int64_t max_length = 0) : max_length_(max_length) {}

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

  // Keeps cached row rows[i] as row i of every layer (self- and cross-attention entries and
  // the padding mask), e.g. the parents of the surviving hypotheses in beam search. Rows
  // may repeat or be dropped; the batch becomes rows.size(). `same_memory`: the caller
  // knows new row i reads the same encoder output as old row i did (beam search when no
  // source's beam changed size), so the cross-attention entries stay as they are.
  void reorder(const std::vector<int32_t>& rows, bool same_memory = false);

 private:
  std::vector<LayerKV> layers_;
  std::vector<uint8_t> key_padding_;  // [B · length] or empty (all real)
  int64_t max_length_ = 0;
  int64_t length_ = 0;
  int64_t batch_ = 0;
};

}  // namespace tapelm
