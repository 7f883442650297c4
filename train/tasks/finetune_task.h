// A labeled fine-tuning task (classification, completion, seq2seq): it owns the model, the
// tokenizer(s) and any label vocabulary, turns training examples
// into a loss, evaluates and predicts. Training wraps it with its data in a LabeledTrainingTask
// (train/tasks/labeled_training_task.h) for the one training loop; eval and predict use it alone.
#pragma once

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <tapelm/autograd/variable.h>
#include <tapelm/data/labeled_dataset.h>
#include <tapelm/nn/module.h>
#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/tasks/eval_totals.h>
#include <tapelm/train/config/finetune_config.h>
#include <tapelm/train/loop/training_task.h>

namespace tapelm {

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

// One training example as the training loop draws it.
struct TrainingItem {
  size_t example = 0;  // index into the examples
  size_t length = 0;   // what data.group_by_length sorts by (bytes)
};

// Each of examples[indices] whole, as long as its input and target bytes.
std::vector<TrainingItem> whole_examples(const std::vector<LabeledExample>& examples,
                                         const std::vector<size_t>& indices);
// The example of each item.
std::vector<size_t> item_examples(const std::vector<TrainingItem>& items);

class FinetuneTask {
 public:
  virtual ~FinetuneTask() = default;

  virtual Module& model() = 0;
  // The model's set_dropout_batch: row b of the following loss() calls' micro-batch is
  // example first_example + b of step `step`'s global batch (DropoutSource, nn/dropout.h).
  virtual void set_dropout_batch(int64_t step, int64_t first_example) = 0;

  // The metrics evaluate() reports; the first is the default early-stopping metric.
  virtual std::vector<MetricSpec> metrics() const = 0;

  // The mean training loss over `batch` (a micro-batch of whole_examples), with a tape for
  // backward, and the weight it is a mean over (tokens counted, or examples times their class
  // weights). The model is in train mode.
  virtual WeightedLoss loss(const std::vector<LabeledExample>& examples, const std::vector<TrainingItem>& batch) = 0;

  // Metrics over examples[indices] (the model in eval mode, no tape; the task restores train
  // mode). `batch_size` bounds the examples (a classifier's windows) per forward pass; the
  // metrics count examples (documents), never windows. One process's evaluation;
  // train/tasks/sharded_evaluation.h spreads one over MPI ranks.
  TaskEvaluation evaluate(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices,
                          int64_t batch_size) {
    return summarize(evaluate_part(examples, indices, batch_size, Shard{}));
  }

  // `shard`'s part of evaluating examples[indices]: every part is given all the indices and
  // computes its own share of them (contiguous, in whole batches where the task batches by
  // example), so the parts' totals added in rank order (EvalTotals::add) and summarized give
  // evaluate()'s metrics (up to the order of floating-point sums) and its exact report. A
  // part may be empty.
  virtual EvalTotals evaluate_part(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices,
                                   int64_t batch_size, Shard shard) = 0;
  // The metrics and report of the summed totals of all parts. Throws std::invalid_argument
  // when they hold no example.
  virtual TaskEvaluation summarize(const EvalTotals& totals) const = 0;

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
