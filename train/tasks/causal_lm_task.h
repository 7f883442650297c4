// Pretraining as a TrainingTask: next-token prediction over windows of model.ctx_len tokens
// drawn at random from the tokenized corpus (data/sampler.h), validation on consecutive windows
// of the held-out tokens (loss and perplexity), and a text sample after each evaluation.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <tapelm/data/dataset.h>
#include <tapelm/data/sampler.h>
#include <tapelm/nn/gpt.h>
#include <tapelm/train/config/pretrain_config.h>
#include <tapelm/train/loop/training_task.h>

namespace tapelm {

class CausalLmTask : public TrainingTask {
 public:
  // Tokenizes and shards the corpus (train/tasks/pretrain_setup.h; `tokenizer_model`, when not
  // empty, is the tokenizer to use, e.g. a resumed checkpoint's), checks that the model fits in
  // memory now that the vocabulary is known, and builds the GPT from the config's seed.
  // `config` must outlive the task.
  CausalLmTask(const PretrainConfig& config, const std::string& tokenizer_model, std::ostream& log);

  std::string name() const override { return "pretrain"; }
  Module& model() override { return *model_; }
  std::vector<ParamGroup> param_groups() const override;
  ThroughputUnit throughput_unit() const override;
  double epoch_examples() const override;

  void draw_batch(int64_t batch_size) override;
  WeightedLoss loss(int64_t step, int64_t begin, int64_t end) override;

  std::vector<MetricSpec> metrics() const override { return {{"loss", false}, {"ppl", false}}; }
  bool has_split(Split split) const override { return split == Split::kVal; }
  int64_t split_examples(Split split) const override;
  TaskEvaluation evaluate(Split split, const Distributed* dist) override;
  // Throws std::invalid_argument when the model's logits are not finite.
  std::optional<std::string> sample() override;

  nlohmann::json sampler_state() const override;
  void restore_sampler(const nlohmann::json& state) override;
  std::vector<CheckpointFile> checkpoint_files() const override;

 private:
  // The validation windows an evaluation covers: eval.max_examples of them spread evenly over
  // the validation tokens (0: all).
  std::vector<uint64_t> val_windows() const;

  const PretrainConfig& config_;
  PreparedData data_;
  std::unique_ptr<GPT> model_;
  std::unique_ptr<RandomSampler> sampler_;
  std::unique_ptr<SequentialSampler> val_sampler_;
  std::vector<int32_t> x_, y_;    // the step's global batch, [batch_size, ctx_len]
  std::vector<int32_t> xs_, ys_;  // one micro-batch of it
};

}  // namespace tapelm
