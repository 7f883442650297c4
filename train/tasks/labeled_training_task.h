// Fine-tuning as a TrainingTask: labeled examples with their train / validation / test split
// (train/tasks/finetune_data.h), the training split's examples drawn in seeded epochs
// (data/epoch_sampler.h), around the classification, completion or seq2seq task
// (train/tasks/finetune_task.h) that owns the model and turns examples into losses and metrics.
#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <tapelm/data/epoch_sampler.h>
#include <tapelm/train/config/finetune_config.h>
#include <tapelm/train/tasks/finetune_data.h>
#include <tapelm/train/tasks/finetune_task.h>
#include <tapelm/train/loop/training_task.h>

namespace tapelm {

class Distributed;

class LabeledTrainingTask : public TrainingTask {
 public:
  // `config` must outlive the task.
  LabeledTrainingTask(const FinetuneConfig& config, FinetuneData data, std::unique_ptr<FinetuneTask> task);

  std::string name() const override { return config_.task; }
  Module& model() override { return task_->model(); }
  std::vector<ParamGroup> param_groups() const override;
  ThroughputUnit throughput_unit() const override { return {"examples_per_s", "ex/s", 1}; }
  double epoch_examples() const override { return double(items_.size()); }

  void draw_batch(int64_t batch_size) override;
  WeightedLoss loss(int64_t step, int64_t begin, int64_t end) override;
  // With data.group_by_length: its examples times the longest one's length (they are padded to
  // it), so that ranks share out micro-batches of long and short words evenly.
  double micro_batch_cost(int64_t begin, int64_t end) const override;

  std::vector<MetricSpec> metrics() const override { return task_->metrics(); }
  bool has_split(Split split) const override;
  int64_t split_examples(Split split) const override;
  TaskEvaluation evaluate(Split split, const Distributed* dist) override;

  nlohmann::json sampler_state() const override;
  void restore_sampler(const nlohmann::json& state) override;
  std::vector<CheckpointFile> checkpoint_files() const override { return task_->checkpoint_files(); }

  FinetuneTask& task() { return *task_; }

 private:
  // The validation split, or eval.max_examples of it spread evenly over the split.
  std::vector<size_t> val_indices() const;

  const FinetuneConfig& config_;
  FinetuneData data_;
  std::unique_ptr<FinetuneTask> task_;
  std::vector<TrainingItem> items_;  // what an epoch visits
  EpochSampler sampler_;
  std::vector<size_t> batch_;  // the step's global batch: indices into items_
};

// For a classifier reading documents in windows (data.max_windows > 1), the line saying how
// they are read and pooled; empty otherwise.
std::string describe_windows(const FinetuneConfig& config);

// Reads the labeled data and splits it (a new run writes <out_dir>/split.json, a resumed one
// reads it), then builds the task: from scratch, from `init_from`, or, resuming, from
// `resume_from`'s task files (whose config must have the same task, architecture and
// data.max_windows, and with more than one window the same data.max_len). Under
// MPI, rank 0 does this first; the other ranks then read the same split and rebuild the same
// task from the files rank 0 made (its labels and tokenizers), so every rank trains the same
// model. Throws ConfigError / InputError / CheckpointError.
std::unique_ptr<LabeledTrainingTask> make_labeled_training_task(const FinetuneConfig& config,
                                                                const std::optional<Checkpoint>& init_from,
                                                                const std::optional<Checkpoint>& resume_from,
                                                                const Distributed* dist, std::ostream& log);

}  // namespace tapelm
