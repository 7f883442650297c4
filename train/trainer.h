// The pretraining loop behind `tapelm pretrain`: data preparation, model, optimizer and
// schedule from the config; per step, gradient accumulation over micro-batches, clipping,
// skipping of non-finite steps and the optimizer update; logging (console, metrics.jsonl),
// periodic evaluation with a loss plot and a text sample, and checkpoints. Resuming restores
// weights, optimizer, sampler and step, so a run continued from a checkpoint
// computes bit for bit what the uninterrupted run would have (same thread count).
//
// Data parallelism (docs/distributed.md): given a Distributed of N > 1 ranks, every rank runs
// this loop on its share of each global batch (batch_size / (micro_batch_size × N)
// accumulation steps of micro_batch_size windows), gradients are averaged over the ranks
// before clipping, and the logged loss is the mean over the ranks. Rank 0 prepares the data
// first, writes everything (log, metrics, plots, samples, checkpoints) and runs the
// evaluations while the other ranks wait; dropout masks depend on each example's index in the
// global batch, not on the rank. Checkpoints can be resumed only by a job of the same N. Every rank must call train() with the same run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <stdexcept>

#include "train/commands.h"

namespace tapelm {

class Distributed;

struct TrainerOptions {
  std::ostream* log = &std::cout;  // summary, log lines, evaluations, samples
  // A terminal stream (e.g. std::cerr when it is a tty) for the in-place progress bar;
  // nullptr prints plain log lines every logging.interval steps instead.
  std::ostream* progress_bar = nullptr;
  // Polled after every step; returning true stops the run after writing a checkpoint. With
  // several ranks, a request on any rank stops all of them after the same step.
  std::function<bool()> stop_requested;
  // Called once setup is done, just before the first step (e.g. to start deferring signals).
  std::function<void()> on_training_start;
  // The process group to train with; nullptr (or a world of one) trains in this process alone.
  const Distributed* distributed = nullptr;
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
// unusable input (e.g. an architecture change on resume, a checkpoint written by a different
// number of ranks, a batch_size the ranks cannot share), TrainingDiverged as above. On ranks
// other than 0 the result's checkpoint and val_loss are left empty.
TrainResult train(const PreparedRun& run, const TrainerOptions& options = {});

}  // namespace tapelm
