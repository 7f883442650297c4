// The interface between the one training loop (train/loop/training_loop.h) and what it trains:
// causal-LM pretraining (train/tasks/causal_lm_task.h) and the labeled fine-tuning tasks
// (train/tasks/labeled_training_task.h over classification, completion and seq2seq). The task owns
// the model, its data and the order it is drawn in; the loop owns everything else: steps,
// micro-batches and ranks, the optimizer and schedule, clipping, evaluation timing, early
// stopping, checkpoints, resume, metrics and progress.
//
// A step trains on one global batch of train.batch_size examples (windows of tokens, or
// labeled examples), drawn identically on every rank; the loop hands each rank its slices of
// it as micro-batches, named by their positions in the global batch, so neither the data a
// step sees nor its dropout masks depend on how many ranks share it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <tapelm/autograd/variable.h>
#include <tapelm/nn/module.h>
#include <tapelm/optim/optimizer.h>
#include <tapelm/train/checkpoint/checkpoint.h>

namespace tapelm {

class Distributed;

// A metric a task reports, and which way is better.
struct MetricSpec {
  std::string name;  // e.g. "accuracy", "macro_f1", "loss", "wer"
  bool higher_is_better = true;
};

struct TaskEvaluation {
  std::vector<std::pair<std::string, double>> metrics;  // in the order of the task's metrics()
  std::string report;  // printable detail: a confusion matrix, sample predictions, ...
  // Classic baselines scored on the same examples, e.g. "baseline_tfidf_lr_accuracy"
  // (train/tasks/classification_baselines.h); logged beside the metrics. Rank 0 computes them,
  // the other ranks' evaluations leave them empty, as does a task without baselines.
  std::vector<std::pair<std::string, double>> baselines = {};
  std::string baseline_features = {};  // the baselines' features ("word 1-2-grams"), when any

  // Throws std::invalid_argument naming the metric and the ones present.
  double metric(const std::string& name) const;
};

// "accuracy 0.9812, macro_f1 0.9790, loss 0.0713" for logs.
std::string format_metrics(const TaskEvaluation& evaluation);

// The loss of a micro-batch: the mean over what it counts (tokens, or examples weighted by
// their class weight) and the total weight of those, so the loop can weigh micro-batches of
// unequal size or padding exactly as one batch would.
struct WeightedLoss {
  Var mean;
  double weight = 0;
};

// What the throughput of a step counts.
struct ThroughputUnit {
  std::string metric;   // the metrics.jsonl field: "tokens_per_s", "examples_per_s"
  std::string display;  // the progress display's unit: "tok/s", "ex/s"
  int64_t per_example = 1;  // units per example of a batch (tokens per window for pretraining)
};

enum class Split { kVal, kTest };

class TrainingTask {
 public:
  virtual ~TrainingTask() = default;

  // "pretrain", "classification", ... for the log.
  virtual std::string name() const = 0;
  virtual Module& model() = 0;
  // The optimizer's parameter groups; frozen parameters are in none.
  virtual std::vector<ParamGroup> param_groups() const = 0;
  virtual ThroughputUnit throughput_unit() const = 0;
  // How many examples one pass over the training data holds (for pretraining, the training
  // tokens over the tokens per window), for the log's epochs per run.
  virtual double epoch_examples() const = 0;

  // Draws the next global batch of `batch_size` examples; every rank draws the same.
  virtual void draw_batch(int64_t batch_size) = 0;
  // The loss over examples [begin, end) of the batch drawn last (model in train mode, with a
  // tape), with the dropout masks of training step `step` (0-based).
  virtual WeightedLoss loss(int64_t step, int64_t begin, int64_t end) = 0;
  // What loss() over examples [begin, end) of the batch drawn last costs to compute, relative
  // to the batch's other micro-batches: under MPI the ranks share a step's micro-batches by it
  // (train/loop/micro_batch_shares.h), so it must be the same on every rank. By default every
  // example costs the same.
  virtual double micro_batch_cost(int64_t begin, int64_t end) const { return double(end - begin); }

  // The metrics evaluate() reports; the first is the default early-stopping metric.
  virtual std::vector<MetricSpec> metrics() const = 0;
  virtual bool has_split(Split split) const = 0;
  // The examples (windows, for pretraining) an evaluation of the split covers.
  virtual int64_t split_examples(Split split) const = 0;
  // The model's metrics on a split (eval mode, no tape), the same on every rank of `dist`
  // (null: this process alone). Every rank must call it.
  virtual TaskEvaluation evaluate(Split split, const Distributed* dist) = 0;
  // Text to show after an evaluation, e.g. a generated sample; nullopt for none. Rank 0 only.
  // std::invalid_argument when none can be made (e.g. a diverged model's non-finite logits).
  virtual std::optional<std::string> sample() { return std::nullopt; }

  // The position of the training data order (the batch sampler's state), for checkpoints.
  virtual nlohmann::json sampler_state() const = 0;
  // Continues from a sampler_state(); throws std::invalid_argument for one that does not fit.
  virtual void restore_sampler(const nlohmann::json& state) = 0;
  // The task's files for a checkpoint besides weights, optimizer state, trainer state and
  // config: tokenizer.model, labels.json, ... Their bytes must stay the same for the whole run:
  // checkpoint.average_last averages only checkpoints whose task files are byte-identical.
  virtual std::vector<CheckpointFile> checkpoint_files() const = 0;
};

}  // namespace tapelm
