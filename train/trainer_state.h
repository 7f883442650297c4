// trainer_state.json: everything besides weights and optimizer moments that a resumed run
// needs to continue exactly where the checkpoint left off. Dropout has no state to save (its
// masks are a function of the step, nn/dropout.h): the "dropout_rng" and
// "dropout_rng_per_rank" fields of older checkpoints are ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace tapelm {

struct RngState {
  uint64_t seed = 0;
  uint64_t counter = 0;
};

struct TrainerState {
  int64_t step = 0;         // optimizer steps completed
  int64_t tokens_seen = 0;  // training tokens consumed (skipped steps included)
  RngState sampler;         // the training batch sampler
  std::optional<double> best_val_loss;
  int64_t skipped_steps = 0;       // non-finite steps in the whole run
  int64_t bad_steps_in_a_row = 0;  // non-finite steps since the last good one
  int64_t world_size = 1;          // processes that trained together
};

std::string to_json(const TrainerState& state);

// Throws std::invalid_argument("<origin>: <what is wrong>") for malformed JSON, a missing
// or mistyped field, an unknown format/version, or a world_size below 1.
TrainerState parse_trainer_state(const std::string& json, const std::string& origin);

}  // namespace tapelm
