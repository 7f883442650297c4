// Seeded per-epoch permutations.
#include "train/epoch_sampler.h"

#include <stdexcept>
#include <string>

#include "autograd/rng.h"

namespace tapelm {

EpochSampler::EpochSampler(std::vector<size_t> items, uint64_t seed) : items_(std::move(items)) {
  if (items_.empty()) throw std::invalid_argument("EpochSampler: no items to sample from");
  state_.seed = seed;
  shuffle_epoch();
}

void EpochSampler::shuffle_epoch() {
  // Fisher-Yates with a stream keyed by (seed, epoch); the modulo bias is negligible for
  // any realistic dataset size and keeps the order identical on every platform.
  Rng rng(state_.seed ^ (0x9E3779B97F4A7C15ull * uint64_t(state_.epoch + 1)));
  order_ = items_;
  for (size_t i = order_.size(); i > 1; --i) {
    const size_t j = size_t(rng.next_u64() % i);
    std::swap(order_[i - 1], order_[j]);
  }
}

std::vector<size_t> EpochSampler::next(size_t count) {
  std::vector<size_t> batch;
  batch.reserve(count);
  while (batch.size() < count) {
    if (state_.position == int64_t(order_.size())) {
      ++state_.epoch;
      state_.position = 0;
      shuffle_epoch();
    }
    batch.push_back(order_[size_t(state_.position++)]);
  }
  return batch;
}

void EpochSampler::restore(const EpochSamplerState& state) {
  if (state.position < 0 || state.position > int64_t(items_.size()) || state.epoch < 0) {
    throw std::invalid_argument("EpochSampler: cannot restore epoch " + std::to_string(state.epoch) + " position " +
                                std::to_string(state.position) + " over " + std::to_string(items_.size()) + " items");
  }
  state_ = state;
  shuffle_epoch();
}

}  // namespace tapelm
