// Sharing a step's micro-batches among ranks by their cost (longest processing time first,
// with equal numbers per rank).
#include <tapelm/train/loop/micro_batch_shares.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace tapelm {

std::vector<std::vector<int64_t>> share_micro_batches(const std::vector<double>& costs, int world_size) {
  if (world_size < 1 || costs.size() % size_t(world_size) != 0) {
    throw std::invalid_argument("share_micro_batches: " + std::to_string(costs.size()) +
                                " micro-batches cannot be shared equally by " + std::to_string(world_size) + " ranks");
  }
  const size_t per_rank = costs.size() / size_t(world_size);
  std::vector<int64_t> order(costs.size());
  std::iota(order.begin(), order.end(), 0);
  // Stable, so that micro-batches of equal cost keep their order and are dealt out in turn.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return costs[a] > costs[b]; });

  std::vector<std::vector<int64_t>> shares(static_cast<size_t>(world_size));
  std::vector<double> load(static_cast<size_t>(world_size), 0.0);
  for (const int64_t k : order) {
    int best = -1;
    for (int r = 0; r < world_size; ++r) {
      if (shares[r].size() == per_rank) continue;
      if (best < 0 || load[r] < load[best]) best = r;
    }
    shares[best].push_back(k);
    load[best] += costs[k];
  }
  for (std::vector<int64_t>& share : shares) std::sort(share.begin(), share.end());
  return shares;
}

}  // namespace tapelm
