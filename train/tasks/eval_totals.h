// One rank's part of an evaluation: which examples a rank takes (Shard, shard_range) and what
// it returns (EvalTotals: figures that add up over the parts, plus the first report samples).
// A task's evaluate_part fills EvalTotals; summing the parts and summarizing gives the same
// metrics and report as evaluating everything in one process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tapelm {

// Part `rank` of `ranks` (rank in [0, ranks)).
struct Shard {
  int rank = 0;
  int ranks = 1;
};

// The contiguous block [begin, end) of `n` items that `shard` takes, cut at multiples of `unit`
// (e.g. the evaluation batch size, so every batch is the one a single process would run):
// the units are dealt out as evenly as they go, earlier ranks holding earlier items. A rank
// may get nothing when there are fewer units than ranks. Throws std::invalid_argument for
// unit < 1 or a rank outside [0, ranks).
std::pair<size_t, size_t> shard_range(size_t n, int64_t unit, Shard shard);

struct EvalTotals {
  // Task-defined figures (loss sums, token counts, confusion-matrix cells, edit distances,
  // ...) that are summed element-wise over the parts; counts stay exact below 2^53.
  std::vector<double> sums;
  // Report lines of the part's first examples, in example order; a task keeps at most as
  // many as its report shows, and its summary takes the first of the concatenation.
  std::vector<std::string> samples;

  // Adds `later`'s sums and appends its samples (those of examples after this part's).
  // Throws std::invalid_argument when the sums differ in length.
  void add(const EvalTotals& later);
};

// Throws std::invalid_argument unless `totals` holds `count` sums (the layout of `task`).
void require_sums(const EvalTotals& totals, size_t count, const std::string& task);

}  // namespace tapelm
