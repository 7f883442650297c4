// trainer_state.json: everything besides weights and optimizer moments that a resumed run of
// any task needs to continue exactly where its checkpoint left off: the step, the position of
// the training data order, the early-stopping bookkeeping and the skipped-step counters.
//
// Format version 2. Checkpoints of earlier versions still resume: version 1's
// trainer_state.json (pretraining) and finetune_state.json (fine-tuning) are read and
// converted; their per-model dropout streams are dropped, since dropout masks are now a pure
// function of the seed, the step and the example (nn/dropout.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <tapelm/train/checkpoint/checkpoint.h>

namespace tapelm {

inline constexpr const char* kTrainerStateFile = "trainer_state.json";
// What fine-tuning checkpoints of format version 1 held instead.
inline constexpr const char* kFinetuneStateFileV1 = "finetune_state.json";

struct TrainerState {
  int64_t step = 0;           // optimizer steps completed
  int64_t examples_seen = 0;  // training examples (windows, for pretraining) consumed, skipped steps included
  nlohmann::json sampler;     // the task's training data order (TrainingTask::sampler_state)
  std::optional<double> best_metric;  // the best value of the early-stopping metric so far
  int64_t best_step = 0;              // the step it was reached at
  int64_t evals_without_improvement = 0;
  bool early_stopped = false;      // patience ran out: the run is over
  int64_t skipped_steps = 0;       // non-finite steps in the whole run
  int64_t bad_steps_in_a_row = 0;  // non-finite steps since the last good one
  int64_t world_size = 1;          // processes that trained the last step (for the log)
};

std::string to_json(const TrainerState& state);

// Throws std::invalid_argument("<origin>: <what is wrong>") for malformed JSON, a missing or
// mistyped field, or a format or version it does not know (naming both). `per_example` is
// the tokens per example of a version-1 pretraining state, which counted tokens.
TrainerState parse_trainer_state(const std::string& json, const std::string& origin, int64_t per_example = 1);

// The checkpoint's trainer state (or a version-1 fine-tuning checkpoint's
// finetune_state.json). CheckpointError naming the file when it cannot be read.
TrainerState checkpoint_trainer_state(const Checkpoint& checkpoint, int64_t per_example = 1);

}  // namespace tapelm
