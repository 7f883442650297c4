// The fine-tuning loop behind `tapelm finetune`: labeled data and its split, the task
// (model, tokenizer, labels), optimizer (the head may have its own learning rate, frozen
// parameters are left out) and schedule; per step, micro-batches of training examples from
// a seeded epoch shuffler, gradient accumulation, clipping, skipping of non-finite steps;
// evaluation on the validation split every eval.interval steps with early stopping on a
// metric, the best model kept in <out_dir>/best; checkpoints; at the end the best model is
// evaluated on the test split. Resuming continues bit for bit (same thread count).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "optim/optimizer.h"
#include "train/checkpoint.h"
#include "train/finetune_config.h"
#include "train/finetune_task.h"
#include "train/run_dir.h"

namespace tapelm {

// Everything `tapelm finetune` decides before the first step.
struct FinetuneRun {
  FinetuneConfig config;                 // resolved: with init_from, model = its architecture
  std::shared_ptr<const RunLock> lock;   // on out_dir, held while any copy lives
  std::optional<Checkpoint> init_from;   // the pretraining checkpoint (new runs only)
  std::optional<Checkpoint> resume_from;
  std::vector<std::string> warnings;
};

struct FinetuneOptions {
  std::ostream* log = &std::cout;  // log lines: progress every logging.interval steps, evaluations
  // A terminal stream (e.g. std::cerr when it is a tty) for the in-place progress bar, as in
  // pretraining (train/trainer.h); null for progress as log lines.
  std::ostream* progress_bar = nullptr;
  std::function<bool()> stop_requested;  // polled after every step
  std::function<void()> on_training_start;  // called once setup is done, before the first step
};

struct FinetuneResult {
  bool stopped = false;       // by stop_requested (a checkpoint was written)
  bool early_stopped = false;  // eval.patience ran out
  int64_t step = 0;
  std::filesystem::path checkpoint;  // the last checkpoint written
  std::filesystem::path best;        // the best checkpoint (empty if no evaluation was finite)
  std::optional<TaskEvaluation> test;  // the test-split evaluation (not after a stop)
};

// <out_dir>/best: the checkpoint with the best validation metric so far.
std::filesystem::path best_checkpoint_dir(const std::filesystem::path& out_dir);

// The optimizer's groups: weight decay or not (optim/param_groups.h), each split into the
// backbone ("decay", "no_decay") and the task's head ("head_decay", "head_no_decay", at
// lr_scale classification.head_lr_scale). Frozen parameters are in none.
std::vector<ParamGroup> finetune_param_groups(const FinetuneTask& task, const NamedParameters& params,
                                              const FinetuneConfig& config);

// The validation metric early stopping and the best checkpoint follow: eval.metric, or the
// task's first. Throws ConfigError when the task has no such metric.
MetricSpec early_stopping_metric(const FinetuneTask& task, const FinetuneConfig& config);

// Throws ConfigError/InputError/CheckpointError for unusable input, TrainingDiverged
// (train/trainer.h) after train.max_bad_steps non-finite steps in a row.
FinetuneResult finetune(const FinetuneRun& run, const FinetuneOptions& options = {});

}  // namespace tapelm
