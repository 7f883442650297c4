// finetune_state.json: everything besides weights and optimizer moments that a resumed
// fine-tuning run needs to continue exactly where its checkpoint left off, including the
// early-stopping bookkeeping.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "data/epoch_sampler.h"
#include "train/trainer_state.h"

namespace tapelm {

inline constexpr const char* kFinetuneStateFile = "finetune_state.json";

struct FinetuneState {
  int64_t step = 0;               // optimizer steps completed
  int64_t examples_seen = 0;      // training examples consumed (skipped steps included)
  EpochSamplerState sampler;      // the training example shuffler
  RngState dropout;               // the model's dropout stream
  std::optional<double> best_metric;  // the best value of the early-stopping metric so far
  int64_t best_step = 0;              // the step it was reached at
  int64_t evals_without_improvement = 0;
  int64_t skipped_steps = 0;       // non-finite steps in the whole run
  int64_t bad_steps_in_a_row = 0;  // non-finite steps since the last good one
  bool early_stopped = false;      // patience ran out: the run is over
};

std::string to_json(const FinetuneState& state);
// Throws std::invalid_argument("<origin>: <what is wrong>") for malformed JSON or a missing field.
FinetuneState parse_finetune_state(const std::string& json, const std::string& origin);

}  // namespace tapelm
