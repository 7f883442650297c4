// Pretraining's data, model, loss, validation and samples.
#include <tapelm/train/tasks/causal_lm_task.h>

#include <stdexcept>

#include <tapelm/optim/param_groups.h>
#include <tapelm/train/config/builders.h>
#include <tapelm/train/loop/distributed.h>
#include <tapelm/train/tasks/evaluation.h>
#include <tapelm/train/config/memory_budget.h>
#include <tapelm/train/config/memory_estimate.h>
#include <tapelm/train/tasks/pretrain_setup.h>
#include <tapelm/train/loop/progress.h>
#include <tapelm/decode/generate.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace {

// Keeps the batch order independent of the init and dropout streams of the same seed.
constexpr uint64_t kSamplerSalt = 0x6A09E667F3BCC909ull;

}  // namespace

CausalLmTask::CausalLmTask(const PretrainConfig& config, const std::string& tokenizer_model, std::ostream& log)
    : config_(config), data_(prepare_pretrain_data(config, tokenizer_model, log)) {
  const int64_t vocab = data_.tokenizer.vocab_size();
  const MemoryEstimate memory = estimate_memory(config.model, pretrain_memory_plan(config, vocab));
  require_memory_fits(memory, config.train.memory_check, "the run", kTrainingMemoryHint);
  log << "memory: at least " << format_bytes(memory.total_bytes()) << " (" << describe_memory(memory) << ")"
      << std::endl;
  model_ = std::make_unique<GPT>(gpt_config(config.model, vocab, uint64_t(config.seed)));
  model_->train();
  const int64_t ctx = config.model.ctx_len;
  sampler_ = std::make_unique<RandomSampler>(data_.shards.train, ctx, uint64_t(config.seed) ^ kSamplerSalt);
  val_sampler_ = std::make_unique<SequentialSampler>(data_.shards.val, ctx);
}

std::vector<ParamGroup> CausalLmTask::param_groups() const {
  return weight_decay_groups(model_->named_parameters(), config_.optimizer.weight_decay);
}

ThroughputUnit CausalLmTask::throughput_unit() const { return {"tokens_per_s", "tok/s", config_.model.ctx_len}; }

double CausalLmTask::epoch_examples() const {
  return double(data_.shards.train.size()) / double(config_.model.ctx_len);
}

void CausalLmTask::draw_batch(int64_t batch_size) { sampler_->next(batch_size, x_, y_); }

WeightedLoss CausalLmTask::loss(int64_t step, int64_t begin, int64_t end) {
  model_->set_dropout_batch(step, begin);
  const int64_t T = config_.model.ctx_len;
  xs_.assign(x_.begin() + begin * T, x_.begin() + end * T);
  ys_.assign(y_.begin() + begin * T, y_.begin() + end * T);
  const int64_t rows = end - begin;
  return {model_->loss(xs_, ys_, rows, T, {}, kIgnoreIndex, float(config_.train.label_smoothing)), double(rows * T)};
}

int64_t CausalLmTask::split_examples(Split split) const {
  return split == Split::kVal ? int64_t(val_windows().size()) : 0;
}

std::vector<uint64_t> CausalLmTask::val_windows() const {
  const uint64_t all = val_sampler_->num_windows();
  const uint64_t cap = uint64_t(config_.eval.max_examples);
  const uint64_t count = cap == 0 ? all : std::min(all, cap);
  std::vector<uint64_t> windows(count);
  for (uint64_t i = 0; i < count; ++i) windows[i] = i * all / count;
  return windows;
}

// The windows of val_windows() in contiguous shares per rank.
TaskEvaluation CausalLmTask::evaluate(Split split, const Distributed* dist) {
  if (split != Split::kVal) throw std::invalid_argument("pretraining has no test split");
  const std::vector<uint64_t> windows = val_windows();
  const size_t world = dist ? size_t(dist->world_size()) : 1;
  const size_t rank = dist ? size_t(dist->rank()) : 0;
  const std::vector<uint64_t> mine_windows(windows.begin() + long(windows.size() * rank / world),
                                           windows.begin() + long(windows.size() * (rank + 1) / world));
  const LossTotal mine = evaluate_windows(*model_, *val_sampler_, mine_windows, config_.eval.batch_size);
  std::vector<double> totals = {mine.sum, double(mine.tokens)};
  if (dist) dist->all_reduce_sum(totals);
  const LossTotal total{totals[0], int64_t(totals[1])};
  return {{{"loss", total.mean()}, {"ppl", total.perplexity()}}, ""};
}

std::optional<std::string> CausalLmTask::sample() {
  const SampleSection& s = config_.sample;
  if (s.max_new_tokens == 0) return std::nullopt;
  return generate_text(*model_, data_.tokenizer, s.prompt, decoding_options(s, uint64_t(config_.seed)));
}

nlohmann::json CausalLmTask::sampler_state() const {
  return {{"seed", sampler_->seed()}, {"counter", sampler_->counter()}};
}

void CausalLmTask::restore_sampler(const nlohmann::json& state) {
  try {
    sampler_->restore(state.at("seed").get<uint64_t>(), state.at("counter").get<uint64_t>());
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("sampler: expected {\"seed\", \"counter\"} (") + e.what() + ")");
  }
}

std::vector<CheckpointFile> CausalLmTask::checkpoint_files() const {
  return {CheckpointFile::from_bytes(kTokenizerFile, data_.tokenizer.model_bytes())};
}

}  // namespace tapelm
