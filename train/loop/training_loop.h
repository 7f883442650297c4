// The one training loop, behind `tapelm pretrain` and `tapelm finetune` alike: for any
// TrainingTask (train/loop/training_task.h), per step, the global batch's micro-batches on this
// rank, their losses weighed by what each counts, gradients summed over the ranks and divided
// by the global batch's weight, clipping, skipping of non-finite steps and the optimizer
// update at the schedule's learning rate; log lines and metrics; evaluation every
// eval.interval steps with early stopping on a metric and the best checkpoint in
// <out_dir>/best; periodic, final and signal checkpoints, pruned to checkpoint.keep_last;
// at the end, with checkpoint.average_last, the mean of the last checkpoints, validated against
// the best one, and the best model on the test split when the task has one. With train.ema_decay > 0,
// evaluations, samples, the test split and checkpoints' weights.safetensors use the moving
// average of the weights (optim/ema.h), training the weights themselves.
//
// Resuming restores weights, optimizer moments, the data order and the step; dropout masks are
// a function of the seed, step and example (nn/dropout.h), so the continued run computes what
// the uninterrupted one would have: bit for bit with the same number of ranks and threads,
// and up to the order of the sums over ranks with another number of ranks.
//
// Data parallelism (docs/distributed.md): every rank runs this loop; micro-batch k of a step
// covers positions [k·m, (k+1)·m) of its global batch (micro-batch m) and each rank computes
// the ones share_micro_batches (micro_batch_shares.h) gives it, evaluations are shared over the
// ranks, and rank 0 alone writes (log, metrics, plots, samples, checkpoints).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/config/pretrain_config.h>
#include <tapelm/train/loop/training_task.h>

namespace tapelm {

class Distributed;

// What the loop takes from a task's config: the sections every task shares.
struct LoopConfig {
  std::filesystem::path out_dir;
  std::string config_yaml;  // the resolved config: <out_dir>/config.yaml and every checkpoint's
  OptimizerSection optimizer;
  SchedulerSection scheduler;
  TrainSection train;
  int64_t eval_interval = 0;  // eval.interval
  std::string eval_metric;    // eval.metric: the early-stopping metric; empty = the task's first
  int64_t patience = 0;       // eval.patience; 0 = never stop early
  LoggingSection logging;
  CheckpointSection checkpoint;
};

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

struct TrainResult {
  bool stopped = false;        // by stop_requested (a checkpoint was written)
  bool early_stopped = false;  // eval.patience ran out
  int64_t step = 0;            // steps completed
  std::filesystem::path checkpoint;  // the checkpoint written last (rank 0)
  std::filesystem::path best;        // the best checkpoint (rank 0; empty if no evaluation was finite)
  std::filesystem::path average;     // checkpoint.average_last's average (rank 0; empty if none was written)
  std::optional<TaskEvaluation> evaluation;  // the last validation evaluation, if any ran
  std::optional<TaskEvaluation> test;        // the best model on the test split (not after a stop)
};

// train.max_bad_steps consecutive steps had a non-finite loss or gradient norm. The run stops
// without writing a checkpoint, so the last one written holds the last good state.
class TrainingDiverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// <out_dir>/best: the checkpoint with the best validation metric so far.
std::filesystem::path best_checkpoint_dir(const std::filesystem::path& out_dir);
// <out_dir>/average: checkpoint.average_last's average of the run's last checkpoints.
std::filesystem::path average_checkpoint_dir(const std::filesystem::path& out_dir);

// The validation metric early stopping and the best checkpoint follow: eval.metric, or the
// task's first. Throws ConfigError when the task has no such metric.
MetricSpec early_stopping_metric(const std::vector<MetricSpec>& metrics, const std::string& wanted,
                                 const std::string& task_name);

// Micro-batches per rank and step, every rank taking the same share of each batch of `world`
// ranks; throws ConfigError when train.batch_size cannot be shared so or either size is not
// positive.
int64_t accumulation_steps(const TrainSection& train, int world);

// "batch: 8 sequences x 32 tokens = 256 tokens per step (micro-batch 4, 2 accumulation
// steps); 20 steps = 0.41 epochs of the training data" (or "batch: 32 examples per step ...").
// `per_example`: tokens per example, 1 for examples counted whole.
std::string describe_batches(const TrainSection& train, int64_t accumulation, int world, int64_t per_example,
                             double epoch_examples);

// "evaluating the EMA of the weights, decay 0.999" (train.ema_decay), or "" when it is 0.
std::string describe_ema(double ema_decay);

// Trains `task` (built for a new run, or for resuming `resume_from`, whose weights, optimizer
// state and trainer state this loads) until train.max_steps, early stopping or
// options.stop_requested. Every rank must call it with the same arguments. Throws
// ConfigError/InputError/CheckpointError for unusable input (e.g. a batch_size the ranks
// cannot share), TrainingDiverged as above.
TrainResult train(TrainingTask& task, const LoopConfig& config, const std::optional<Checkpoint>& resume_from,
                  const TrainerOptions& options = {});

}  // namespace tapelm
