// Sharding arithmetic and the summing of evaluation totals.
#include <tapelm/train/tasks/eval_totals.h>

#include <algorithm>
#include <stdexcept>

namespace tapelm {

std::pair<size_t, size_t> shard_range(size_t n, int64_t unit, Shard shard) {
  if (unit < 1) throw std::invalid_argument("shard_range: unit must be >= 1, got " + std::to_string(unit));
  if (shard.ranks < 1 || shard.rank < 0 || shard.rank >= shard.ranks) {
    throw std::invalid_argument("shard_range: rank " + std::to_string(shard.rank) + " is outside [0, " +
                                std::to_string(shard.ranks) + ")");
  }
  const size_t size = static_cast<size_t>(unit);
  const size_t units = (n + size - 1) / size;
  const size_t ranks = static_cast<size_t>(shard.ranks);
  const size_t first = units * static_cast<size_t>(shard.rank) / ranks;
  const size_t last = units * static_cast<size_t>(shard.rank + 1) / ranks;
  return {std::min(n, first * size), std::min(n, last * size)};
}

void EvalTotals::add(const EvalTotals& later) {
  if (later.sums.size() != sums.size()) {
    throw std::invalid_argument("EvalTotals::add: " + std::to_string(later.sums.size()) + " sums added to " +
                                std::to_string(sums.size()) + " (parts of one evaluation have the same layout)");
  }
  for (size_t i = 0; i < sums.size(); ++i) sums[i] += later.sums[i];
  samples.insert(samples.end(), later.samples.begin(), later.samples.end());
}

void require_sums(const EvalTotals& totals, size_t count, const std::string& task) {
  if (totals.sums.size() != count) {
    throw std::invalid_argument(task + " evaluation: expected " + std::to_string(count) + " summed totals, got " +
                                std::to_string(totals.sums.size()));
  }
}

}  // namespace tapelm
