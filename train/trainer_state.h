// trainer_state.json: everything besides weights and optimizer moments that a resumed run
// needs to continue exactly where the checkpoint left off. A data-parallel run
// (world_size > 1) also stores every rank's dropout stream, "dropout_rng_per_rank": a list
// of {seed, counter} indexed by rank (its entry 0 equals "dropout_rng"); single-process
// checkpoints omit it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tapelm {

struct RngState {
  uint64_t seed = 0;
  uint64_t counter = 0;
};

struct TrainerState {
  int64_t step = 0;         // optimizer steps completed
  int64_t tokens_seen = 0;  // training tokens consumed (skipped steps included)
  RngState sampler;         // the training batch sampler
  RngState dropout;         // the model's dropout stream (rank 0's in a data-parallel run)
  std::optional<double> best_val_loss;
  int64_t skipped_steps = 0;       // non-finite steps in the whole run
  int64_t bad_steps_in_a_row = 0;  // non-finite steps since the last good one
  int64_t world_size = 1;          // processes that trained together
  // world_size > 1: each rank's dropout stream, index = rank (size world_size); else empty.
  std::vector<RngState> dropout_per_rank;
};

std::string to_json(const TrainerState& state);

// Throws std::invalid_argument("<origin>: <what is wrong>") for malformed JSON, a missing
// or mistyped field, an unknown format/version, a world_size below 1, or per-rank dropout
// states that do not match world_size.
TrainerState parse_trainer_state(const std::string& json, const std::string& origin);

}  // namespace tapelm
