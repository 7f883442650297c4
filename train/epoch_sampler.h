// Epoch-wise shuffling of training example indices: every epoch visits each index once in
// an order that depends only on (seed, epoch), so the sampler's whole state is (seed, epoch,
// position) and a restored sampler continues with exactly the same batches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tapelm {

struct EpochSamplerState {
  uint64_t seed = 0;
  int64_t epoch = 0;     // epochs started before the current one
  int64_t position = 0;  // indices already taken from the current epoch
};

class EpochSampler {
 public:
  // `items`: the indices to visit (e.g. the training split); throws std::invalid_argument if empty.
  EpochSampler(std::vector<size_t> items, uint64_t seed);

  // The next `count` indices, continuing into the next epoch (reshuffled) when one ends.
  std::vector<size_t> next(size_t count);

  EpochSamplerState state() const { return state_; }
  // Throws std::invalid_argument for a position outside the epoch.
  void restore(const EpochSamplerState& state);

 private:
  void shuffle_epoch();

  std::vector<size_t> items_;
  std::vector<size_t> order_;  // the current epoch's permutation of items_
  EpochSamplerState state_;
};

}  // namespace tapelm
