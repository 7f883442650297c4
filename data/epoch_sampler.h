// Epoch-wise shuffling of training example indices: every epoch visits each index once in
// an order that depends only on (seed, epoch), so the sampler's whole state is (seed, epoch,
// position) and a restored sampler continues with exactly the same batches.
//
// With length grouping, each epoch's permutation is reordered so that consecutive groups
// (micro-batches) hold examples of similar length, which cuts padding: the shuffled order
// is cut into pools of kPoolGroups groups, each pool is sorted by length and its groups are
// shuffled again. The order stays a pure function of (seed, epoch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <tapelm/autograd/rng.h>

namespace tapelm {

struct EpochSamplerState {
  uint64_t seed = 0;
  int64_t epoch = 0;     // epochs started before the current one
  int64_t position = 0;  // indices already taken from the current epoch
};

// Off when group_size is 0.
struct LengthGrouping {
  std::vector<size_t> lengths;  // by item value: lengths[i] is the length of item i
  size_t group_size = 0;        // items per group: the size every next() call asks for
};

class EpochSampler {
 public:
  // Groups per pool: enough that sorting a pool gives groups of near-equal lengths, few
  // enough that the batches of an epoch stay well mixed (as in the megabatches of
  // Hugging Face's LengthGroupedSampler).
  static constexpr size_t kPoolGroups = 50;

  // `items`: the indices to visit (e.g. the training split); throws std::invalid_argument if
  // empty, or if grouping lacks the length of an item. With grouping, an epoch visits the
  // largest multiple of group_size items (the few left over differ from epoch to epoch), so
  // that groups never straddle two epochs.
  EpochSampler(std::vector<size_t> items, uint64_t seed, LengthGrouping grouping = {});

  // The next `count` indices, continuing into the next epoch (reshuffled) when one ends.
  std::vector<size_t> next(size_t count);

  EpochSamplerState state() const { return state_; }
  // Throws std::invalid_argument for a position outside the epoch.
  void restore(const EpochSamplerState& state);

 private:
  void shuffle_epoch();
  void group_by_length(Rng& rng);
  size_t epoch_size() const;

  std::vector<size_t> items_;
  LengthGrouping grouping_;
  std::vector<size_t> order_;  // the current epoch's permutation of items_
  EpochSamplerState state_;
};

}  // namespace tapelm
