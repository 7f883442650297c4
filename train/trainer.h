// The pretraining loop behind `tapelm pretrain`: data preparation, model, optimizer and
// schedule from the config; per step, gradient accumulation over micro-batches, clipping,
// skipping of non-finite steps and the optimizer update; logging (console, metrics.jsonl),
// periodic evaluation with a loss plot and a text sample, and checkpoints. Resuming restores
// weights, optimizer, sampler, dropout stream and step, so a run continued from a checkpoint
// computes bit for bit what the uninterrupted run would have (same thread count).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <stdexcept>

#include "train/commands.h"

namespace tapelm {

struct TrainerOptions {
  std::ostream* log = &std::cout;  // summary, log lines, evaluations, samples
  // A terminal stream (e.g. std::cerr when it is a tty) for the in-place progress bar;
  // nullptr prints plain log lines every logging.interval steps instead.
  std::ostream* progress_bar = nullptr;
  // Polled after every step; returning true stops the run after writing a checkpoint.
  std::function<bool()> stop_requested;
};

enum class TrainStatus { kFinished, kStopped };

struct TrainResult {
  TrainStatus status = TrainStatus::kFinished;
  int64_t step = 0;                      // steps completed
  std::filesystem::path checkpoint;      // the checkpoint written last
  std::optional<double> val_loss;        // the last evaluation's, if any ran
};

// train.max_bad_steps consecutive steps had a non-finite loss or gradient norm. The run stops
// without writing a checkpoint, so the last one written holds the last good state.
class TrainingDiverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs (or, with run.resume_from, continues) the training `run` describes until
// train.max_steps or until options.stop_requested. Throws ConfigError/CheckpointError for
// unusable input (e.g. an architecture change on resume), TrainingDiverged as above.
TrainResult train(const PreparedRun& run, const TrainerOptions& options = {});

}  // namespace tapelm
