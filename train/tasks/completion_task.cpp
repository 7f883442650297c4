// The completion task: masked-prompt batches, loss, greedy-completion metrics, predictions.
#include <tapelm/train/tasks/completion_task.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include <tapelm/autograd/tape.h>
#include <tapelm/decode/generate.h>
#include <tapelm/nn/gpt.h>
#include <tapelm/train/config/builders.h>
#include <tapelm/train/tasks/task_common.h>
#include <tapelm/train/tasks/task_metrics.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {

CompletionSequence completion_sequence(const Tokenizer& tokenizer, const std::string& prompt,
                                       const std::string& completion, int64_t max_len, Truncation prompt_truncation) {
  if (max_len < 2) throw std::invalid_argument("completion_sequence: max_len must be >= 2, got " + std::to_string(max_len));
  // Inputs: <bos> + prompt + completion; targets: prompt[1:] ... + completion + <eos>, so
  // max_len inputs hold 1 + P + C tokens with C counting the completion without <eos>.
  std::vector<int32_t> answer = tokenizer.encode(completion);
  answer.push_back(tokenizer.eos_id());
  if (int64_t(answer.size()) > max_len) answer.resize(size_t(max_len));  // keeps room for <bos>
  const int64_t prompt_budget = max_len - int64_t(answer.size());
  const std::vector<int32_t> question = encode_truncated(tokenizer, prompt, prompt_budget, prompt_truncation);

  CompletionSequence seq;
  seq.inputs.push_back(tokenizer.bos_id());
  seq.inputs.insert(seq.inputs.end(), question.begin(), question.end());
  seq.inputs.insert(seq.inputs.end(), answer.begin(), answer.end() - 1);
  seq.targets.assign(question.size(), kIgnoreIndex);
  seq.targets.insert(seq.targets.end(), answer.begin(), answer.end());
  return seq;
}

namespace {

GPTConfig completion_model_config(const FinetuneConfig& config, int64_t vocab_size) {
  return gpt_config(config.model, vocab_size, uint64_t(config.seed));
}

class CompletionTask : public FinetuneTask {
 public:
  explicit CompletionTask(const TaskSetup& setup)
      : config_(*setup.config),
        tokenizer_(task_tokenizer(setup, [&] { return example_texts(*setup.examples, *setup.train_indices, true); })),
        model_(completion_model_config(config_, tokenizer_.vocab_size())),
        truncation_(config_enum<Truncation>("data.truncation", config_.data.truncation)) {
    if (tokenizer_.bos_id() < 0 || tokenizer_.eos_id() < 0) {
      throw InputError("tokenizer: the completion task needs <bos> and <eos> pieces, which this tokenizer lacks");
    }
    if (config_.max_len() > config_.model.ctx_len) {
      throw ConfigError("data.max_len: must be <= the model's ctx_len (" + std::to_string(config_.model.ctx_len) +
                        "), got " + std::to_string(config_.max_len()));
    }
    if (setup.init_from) {
      load_checkpoint_weights(*setup.init_from, model_);
      *setup.log << "init_from: every GPT weight loaded from " << setup.init_from->dir.string() << std::endl;
    }
    model_.train();
  }

  Module& model() override { return model_; }
  void set_dropout_batch(int64_t step, int64_t first_example) override {
    model_.set_dropout_batch(step, first_example);
  }

  std::vector<MetricSpec> metrics() const override { return {{"exact_match", true}, {"loss", false}}; }

  WeightedLoss loss(const std::vector<LabeledExample>& examples, const std::vector<TrainingItem>& batch) override {
    const Batch b = make_batch(examples, item_examples(batch));
    return {model_.loss(b.inputs, b.targets, b.B, b.T, b.padding, kIgnoreIndex, float(config_.train.label_smoothing)),
            double(counted_targets(b.targets))};
  }

  // sums: the summed completion-token loss, its token count, exact completions, examples.
  EvalTotals evaluate_part(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices,
                           int64_t batch_size, Shard shard) override {
    const auto [first, last] = shard_range(indices.size(), batch_size, shard);
    const NoGradGuard no_grad;
    model_.eval();
    double loss_sum = 0;
    int64_t loss_tokens = 0;
    for (size_t begin = first; begin < last; begin += size_t(batch_size)) {
      const std::vector<size_t> part(indices.begin() + long(begin),
                                     indices.begin() + long(std::min(last, begin + size_t(batch_size))));
      const Batch b = make_batch(examples, part);
      const int64_t counted = counted_targets(b.targets);
      loss_sum += double(model_.loss(b.inputs, b.targets, b.B, b.T, b.padding).item()) * double(counted);
      loss_tokens += counted;
    }
    SequenceScores scores;
    EvalTotals totals;
    for (size_t k = first; k < last; ++k) {
      const LabeledExample& example = examples[indices[k]];
      const std::vector<int32_t> predicted = complete(example.input);
      scores.add(tokenizer_.encode(example.target), predicted);
      if (totals.samples.size() < kSamples) {
        totals.samples.push_back("  prompt: " + example.input + "\n  expected: " + example.target +
                                 "\n  predicted: " + tokenizer_.decode(predicted) + "\n");
      }
    }
    model_.train();
    totals.sums = {loss_sum, double(loss_tokens), double(scores.exact), double(scores.sequences)};
    return totals;
  }

  TaskEvaluation summarize(const EvalTotals& totals) const override {
    require_sums(totals, 4, "completion");
    SequenceScores scores;
    scores.exact = int64_t(totals.sums[2]);
    scores.sequences = int64_t(totals.sums[3]);
    std::string samples;
    for (size_t k = 0; k < std::min(kSamples, totals.samples.size()) && samples.size() < 2000; ++k) {
      samples += totals.samples[k];
    }
    TaskEvaluation result;
    result.metrics = {{"exact_match", scores.exact_match_accuracy()},
                      {"loss", totals.sums[1] > 0 ? totals.sums[0] / totals.sums[1] : 0.0}};
    result.report = "greedy completions (first examples):\n" + samples;
    return result;
  }

  std::vector<std::string> predict(const std::vector<std::string>& inputs, int64_t batch_size) override {
    (void)batch_size;  // greedy completion runs one prompt at a time over its KV cache
    std::vector<std::string> lines;
    for (const std::string& input : inputs) {
      nlohmann::ordered_json line;
      line["prediction"] = tokenizer_.decode(complete(input));
      lines.push_back(line.dump());
    }
    return lines;
  }

  std::vector<CheckpointFile> checkpoint_files() const override { return {tokenizer_checkpoint_file(tokenizer_)}; }

 private:
  // Completions shown in the report.
  static constexpr size_t kSamples = 3;

  struct Batch {
    std::vector<int32_t> inputs, targets;
    std::vector<uint8_t> padding;
    int64_t B = 0, T = 0;
  };

  Batch make_batch(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices) const {
    std::vector<CompletionSequence> rows;
    Batch b;
    for (size_t i : indices) {
      rows.push_back(completion_sequence(tokenizer_, examples[i].input, examples[i].target, config_.max_len(), truncation_));
      b.T = std::max(b.T, int64_t(rows.back().inputs.size()));
    }
    b.B = int64_t(rows.size());
    b.inputs.assign(size_t(b.B * b.T), batch_pad_id(tokenizer_));
    b.targets.assign(size_t(b.B * b.T), kIgnoreIndex);
    b.padding.assign(size_t(b.B * b.T), 0);
    for (int64_t r = 0; r < b.B; ++r) {
      const CompletionSequence& row = rows[size_t(r)];
      std::copy(row.inputs.begin(), row.inputs.end(), b.inputs.begin() + r * b.T);
      std::copy(row.targets.begin(), row.targets.end(), b.targets.begin() + r * b.T);
      std::fill_n(b.padding.begin() + r * b.T, row.inputs.size(), uint8_t(1));
    }
    return b;
  }

  // Greedy continuation of <bos> + prompt (the prompt cut to leave room for decode.max_len).
  std::vector<int32_t> complete(const std::string& prompt) {
    const int64_t room = std::max<int64_t>(1, config_.model.ctx_len - 1 - config_.decode.max_len);
    std::vector<int32_t> ids{tokenizer_.bos_id()};
    const std::vector<int32_t> question = encode_truncated(tokenizer_, prompt, room, truncation_);
    ids.insert(ids.end(), question.begin(), question.end());
    return greedy_complete(model_, ids, config_.decode.max_len, tokenizer_.eos_id()).tokens;
  }

  const FinetuneConfig config_;
  Tokenizer tokenizer_;
  GPT model_;
  Truncation truncation_;
};

}  // namespace

std::unique_ptr<FinetuneTask> make_completion_task(const TaskSetup& setup) {
  return std::make_unique<CompletionTask>(setup);
}

}  // namespace tapelm
