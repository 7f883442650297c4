// The interface between the fine-tuning loop (train/finetune_trainer.h) and a task
// (classification, completion, seq2seq): the task owns the model, the tokenizer(s) and any
// label vocabulary, turns example indices into a loss, evaluates and predicts. The trainer
// owns everything task-independent: the split, batch sampling, optimizer, schedule,
// clipping, checkpoints, early stopping, logging.
#pragma once

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "data/labeled_dataset.h"
#include "nn/module.h"
#include "train/checkpoint.h"
#include "train/finetune_config.h"

namespace tapelm {

// A metric a task reports, and which way is better.
struct MetricSpec {
  std::string name;  // e.g. "accuracy", "macro_f1", "loss", "wer"
  bool higher_is_better = true;
};

struct TaskEvaluation {
  std::vector<std::pair<std::string, double>> metrics;  // in the order of FinetuneTask::metrics()
  std::string report;  // printable detail: a confusion matrix, sample predictions, ...

  // Throws std::invalid_argument naming the metric and the ones present.
  double metric(const std::string& name) const;
};

// "accuracy 0.9812, macro_f1 0.9790, loss 0.0713" for logs.
std::string format_metrics(const TaskEvaluation& evaluation);

// What a task factory is given.
struct TaskSetup {
  // The resolved config (for init_from runs, `model` already holds the checkpoint's architecture).
  const FinetuneConfig* config = nullptr;
  // All examples and the training split's indices: a new run builds a label vocabulary or
  // trains a tokenizer from them, a training run (new or resumed) derives class weights.
  // Null when restoring without data (eval, predict).
  const std::vector<LabeledExample>* examples = nullptr;
  const std::vector<size_t>* train_indices = nullptr;
  // Rebuild a fine-tuned task (resume, predict, eval --data): the task's own files (labels.json,
  // tokenizers) are read from this checkpoint; init_from is NOT loaded and nothing is trained.
  // The caller then loads weights.safetensors strictly into model().
  const Checkpoint* restore_from = nullptr;
  // A new run with init_from: the pretraining checkpoint (verified) whose weights and
  // tokenizer the task starts from. Null from scratch and when restoring.
  const Checkpoint* init_from = nullptr;
  // A new run from scratch: where a tokenizer may write scratch files (the run's out_dir).
  std::filesystem::path work_dir;
  std::ostream* log = nullptr;  // task-specific lines: label balance, what init_from loaded, ...
};

class FinetuneTask {
 public:
  virtual ~FinetuneTask() = default;

  virtual Module& model() = 0;
  // The model's set_dropout_batch: row b of the following loss() calls' micro-batch is
  // example first_example + b of step `step`'s global batch (DropoutSource, nn/dropout.h).
  virtual void set_dropout_batch(int64_t step, int64_t first_example) = 0;

  // The metrics evaluate() reports; the first is the default early-stopping metric.
  virtual std::vector<MetricSpec> metrics() const = 0;

  // The mean training loss over examples[batch] (the trainer's micro-batch), with a tape for
  // backward. The model is in train mode.
  virtual Var loss(const std::vector<LabeledExample>& examples, const std::vector<size_t>& batch) = 0;

  // Metrics over examples[indices] (the model in eval mode, no tape; the task restores train
  // mode). `batch_size` bounds the examples per forward pass.
  virtual TaskEvaluation evaluate(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices,
                                  int64_t batch_size) = 0;

  // One JSON object (as compact text, no newline) per input, e.g. classification
  // {"label": "spam", "probabilities": {"ham": 0.01, "spam": 0.99}}, seq2seq/completion
  // {"prediction": "..."}. The command adds "index".
  virtual std::vector<std::string> predict(const std::vector<std::string>& inputs, int64_t batch_size) = 0;

  // Parameters of a newly initialised head (named as in model().named_parameters()): trained
  // with optimizer.lr * classification.head_lr_scale. Default: none.
  virtual bool is_head_parameter(const std::string& name) const {
    (void)name;
    return false;
  }

  // The task's files for a checkpoint, besides weights/optimizer/state/config, which the
  // trainer writes: e.g. tokenizer.model, labels.json, target_tokenizer.model.
  virtual std::vector<CheckpointFile> checkpoint_files() const = 0;
};

// Dispatches on config->task. Throws ConfigError (naming the key) for unusable settings,
// InputError for unusable data or checkpoints.
std::unique_ptr<FinetuneTask> make_finetune_task(const TaskSetup& setup);

}  // namespace tapelm
