// Batches of (input, target) windows from a token dataset: x is `context` tokens and y the
// same window shifted one token ahead. RandomSampler draws window starts from a
// counter-based Rng whose whole state is (seed, counter), for training and checkpoints;
// SequentialSampler walks consecutive non-overlapping windows, for evaluation.
//
// Data parallelism: with world_size > 1, rank r fills rows [r*batch, (r+1)*batch) of one
// global batch of batch*world_size windows, so all ranks together see exactly the windows a
// single process would, and every rank advances the same shared state.
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/autograd/rng.h>
#include <tapelm/data/shards.h>

namespace tapelm {

class RandomSampler {
 public:
  // Needs at least context + 1 tokens; throws std::invalid_argument otherwise.
  RandomSampler(TokenDataset data, int64_t context, uint64_t seed);

  // Resizes x and y to batch * context (row-major [batch, context]) and fills them.
  void next(int64_t batch, std::vector<int32_t>& x, std::vector<int32_t>& y, int rank = 0, int world_size = 1);

  int64_t context() const { return context_; }
  // Checkpoint state: restore(seed(), counter()) continues the exact sequence of batches.
  uint64_t seed() const { return rng_.seed(); }
  uint64_t counter() const { return rng_.counter(); }
  void restore(uint64_t seed, uint64_t counter) { rng_.set_state(seed, counter); }

 private:
  TokenDataset data_;
  int64_t context_;
  Rng rng_;
  std::vector<int32_t> window_;
};

// The index, within a step's global batch, of row 0 of the step's micro-batch `micro_batch`
// (0, 1, ...) that rank `rank` draws with next(batch, x, y, rank, world_size): a step's
// micro-batches fill consecutive windows of batch * world_size rows, rank r the r-th part.
inline int64_t first_row_of_micro_batch(int64_t micro_batch, int64_t batch, int rank = 0, int world_size = 1) {
  return (micro_batch * world_size + rank) * batch;
}

class SequentialSampler {
 public:
  // Window i covers tokens [i*context, i*context + context + 1): every token except the
  // first is a target exactly once. Needs at least context + 1 tokens.
  SequentialSampler(TokenDataset data, int64_t context);

  // Fills up to `batch` rows with the next windows and returns how many (0 once the data is
  // used up); x and y are resized to rows * context.
  int64_t next(int64_t batch, std::vector<int32_t>& x, std::vector<int32_t>& y, int rank = 0, int world_size = 1);

  int64_t context() const { return context_; }
  uint64_t num_windows() const { return num_windows_; }
  // Index of the next window (checkpoint state); set_position(0) starts over.
  uint64_t position() const { return position_; }
  void set_position(uint64_t position);

 private:
  TokenDataset data_;
  int64_t context_;
  uint64_t num_windows_;
  uint64_t position_ = 0;
  std::vector<int32_t> window_;
};

}  // namespace tapelm
