// Which of a step's micro-batches each rank computes. Ranks meet at the gradient sum, so a
// step lasts as long as its busiest rank takes: when micro-batches differ in cost (under
// data.group_by_length each holds words of similar length), dealing them out in turn leaves
// one rank waiting for the other.
#pragma once

#include <cstdint>
#include <vector>

namespace tapelm {

// costs[k]: what micro-batch k of a step (rows [k·B, (k+1)·B) of its global batch) costs to
// compute, relative to the others; costs.size() = micro-batches per rank × world_size.
// Returns each rank's micro-batches in ascending order, the same number for every rank: the
// costliest first, each to the rank with the least cost so far among those not yet full (ties:
// the lower index, the lower rank). Equal costs deal them out in turn, micro-batch k to rank
// k mod world_size. Throws std::invalid_argument when the ranks cannot get equal numbers.
std::vector<std::vector<int64_t>> share_micro_batches(const std::vector<double>& costs, int world_size);

}  // namespace tapelm
