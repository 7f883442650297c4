// Seeded per-epoch permutations.
#include <tapelm/data/epoch_sampler.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace tapelm {

EpochSampler::EpochSampler(std::vector<size_t> items, uint64_t seed, LengthGrouping grouping)
    : items_(std::move(items)), grouping_(std::move(grouping)) {
  if (items_.empty()) throw std::invalid_argument("EpochSampler: no items to sample from");
  if (grouping_.group_size > 0) {
    for (size_t item : items_) {
      if (item >= grouping_.lengths.size()) {
        throw std::invalid_argument("EpochSampler: no length for item " + std::to_string(item) + " (" +
                                    std::to_string(grouping_.lengths.size()) + " lengths)");
      }
    }
  }
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
  if (grouping_.group_size > 0) group_by_length(rng);
}

void EpochSampler::group_by_length(Rng& rng) {
  const size_t g = grouping_.group_size;
  order_.resize(epoch_size());
  const size_t pool_size = g * kPoolGroups;
  std::vector<size_t> pooled;
  for (size_t begin = 0; begin < order_.size(); begin += pool_size) {
    const auto first = order_.begin() + long(begin);
    const auto last = order_.begin() + long(std::min(order_.size(), begin + pool_size));
    std::stable_sort(first, last, [&](size_t a, size_t b) { return grouping_.lengths[a] < grouping_.lengths[b]; });
    const size_t groups = (size_t(last - first) + g - 1) / g;
    std::vector<size_t> group_order(groups);
    for (size_t k = 0; k < groups; ++k) group_order[k] = k;
    for (size_t k = groups; k > 1; --k) std::swap(group_order[k - 1], group_order[size_t(rng.next_u64() % k)]);
    pooled.clear();
    for (size_t k : group_order) {
      pooled.insert(pooled.end(), first + long(k * g), first + long(std::min(size_t(last - first), (k + 1) * g)));
    }
    std::copy(pooled.begin(), pooled.end(), first);
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

size_t EpochSampler::epoch_size() const {
  const size_t g = grouping_.group_size;
  return g > 0 && items_.size() >= g ? items_.size() / g * g : items_.size();
}

void EpochSampler::restore(const EpochSamplerState& state) {
  if (state.position < 0 || state.position > int64_t(epoch_size()) || state.epoch < 0) {
    throw std::invalid_argument("EpochSampler: cannot restore epoch " + std::to_string(state.epoch) + " position " +
                                std::to_string(state.position) + " over " + std::to_string(epoch_size()) +
                                " items per epoch");
  }
  state_ = state;
  shuffle_epoch();
}

}  // namespace tapelm
