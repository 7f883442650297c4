// A task of one's own in tapelm's Trainer: a regression head on a one-layer transformer predicts
// the mean of a sequence of digits. The task supplies model, batches, loss and metrics
// (TrainingTask); the library's loop does the rest (schedule, clipping, evaluation, early
// stopping, checkpoints, metrics.jsonl). Usage: custom_task [--resume] [config.yaml]
// [section.key=value ...]; --resume continues the run in out_dir from its newest checkpoint
// (e.g. with train.max_steps=300 after the first 150 steps). Exits 0 when the model beats
// predicting the mean (validation R² > 0.5), 1 if not, 2 for bad input (a config, an out_dir
// that holds an earlier run without --resume, no checkpoint to resume from).
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <tapelm/autograd/ops.h>
#include <tapelm/nn/backbone.h>
#include <tapelm/nn/linear.h>
#include <tapelm/train/config/builders.h>
#include <tapelm/train/config/errors.h>
#include <tapelm/train/loop/run_task.h>
#include <tapelm/train/loop/task_config.h>

using namespace tapelm;

// The task's own config section, `regression:` in the YAML file.
struct RegressionSection {
  int64_t train_examples = 2048, val_examples = 256, seq_len = 8;
};

SectionSchema<RegressionSection> regression_keys() {
  using R = RegressionSection;
  return SectionSchema<R>()
      .add("train_examples", &R::train_examples, at_least(1))
      .add("val_examples", &R::val_examples, at_least(1))
      .add("seq_len", &R::seq_len, at_least(1));
}

// The backbone's hidden states, averaged over positions, through a linear head → [B].
class DigitRegressor : public Backbone {
 public:
  explicit DigitRegressor(const GPTConfig& cfg)  // the model section's architecture, a vocabulary of 10 digits
      : Backbone(cfg, /*vocab_size=*/10, cfg.n_layer, /*causal=*/false, "DigitRegressor"),
        head_(register_module("head", std::make_shared<Linear>(cfg.n_embd, 1, true, init_rng()))) {}
  Var forward(const std::vector<int32_t>& ids, int64_t B, int64_t T) const {
    return reshape(head_->forward(mean(hidden_states(ids, B, T), 1)), {B});
  }

 private:
  std::shared_ptr<Linear> head_;
};

struct Examples {
  std::vector<int32_t> digits;  // n · seq_len
  std::vector<float> targets;   // n
};

Examples make_examples(int64_t n, int64_t seq_len, uint64_t seed) {
  Rng rng(seed);
  Examples e;
  for (int64_t i = 0; i < n; ++i) {
    float sum = 0;
    for (int64_t t = 0; t < seq_len; ++t) sum += float(e.digits.emplace_back(int32_t(rng.below(10))));
    e.targets.push_back(sum / float(seq_len));
  }
  return e;
}

class RegressionTask : public TrainingTask {
 public:
  RegressionTask(const RegressionSection& s, const RunConfig& run)
      : s_(s), seed_(uint64_t(run.seed)), train_(make_examples(s.train_examples, s.seq_len, seed_)),
        val_(make_examples(s.val_examples, s.seq_len, seed_ + 1)), model_(gpt_config(run.model, 10, seed_)) {
    if (s.seq_len > run.model.ctx_len) throw ConfigError("regression.seq_len: must be <= model.ctx_len");
  }

  std::string name() const override { return "digit_regression"; }
  Module& model() override { return model_; }
  std::vector<ParamGroup> param_groups() const override { return {ParamGroup{"all", model_.named_parameters()}}; }
  ThroughputUnit throughput_unit() const override { return {"examples_per_s", "ex/s", 1}; }
  double epoch_examples() const override { return double(s_.train_examples); }
  // Example indices drawn from (seed, position in the run): restorable from one counter.
  void draw_batch(int64_t batch_size) override {
    batch_.clear();
    for (int64_t i = 0; i < batch_size; ++i) batch_.push_back(int64_t(Rng::mix(seed_, drawn_++) % s_.train_examples));
  }
  WeightedLoss loss(int64_t step, int64_t begin, int64_t end) override {
    model_.set_dropout_batch(step, begin);
    const Var e = error(train_, std::vector<int64_t>(batch_.begin() + begin, batch_.begin() + end));
    return {mean_all(mul(e, e)), double(end - begin)};
  }
  std::vector<MetricSpec> metrics() const override { return {{"mse", false}, {"r2", true}}; }  // mse: lower is better
  bool has_split(Split split) const override { return split == Split::kVal; }
  int64_t split_examples(Split) const override { return s_.val_examples; }
  TaskEvaluation evaluate(Split, const Distributed*) override {
    EvalMode eval(model_);
    NoGradGuard no_grad;
    std::vector<int64_t> rows(size_t(s_.val_examples));
    std::iota(rows.begin(), rows.end(), 0);
    const Var e = error(val_, rows);
    const double mse = mean_all(mul(e, e)).item();
    double mean = 0, variance = 0;  // R² = 1 − mse / variance: 0 for always predicting the mean
    for (float t : val_.targets) mean += t / double(rows.size());
    for (float t : val_.targets) variance += (t - mean) * (t - mean) / double(rows.size());
    return {{{"mse", mse}, {"r2", 1.0 - mse / variance}}, ""};
  }
  nlohmann::json sampler_state() const override { return {{"drawn", drawn_}}; }
  void restore_sampler(const nlohmann::json& state) override { drawn_ = state.at("drawn").get<uint64_t>(); }
  std::vector<CheckpointFile> checkpoint_files() const override { return {}; }

 private:
  // Prediction − target for the examples `rows` of `e` → [rows].
  Var error(const Examples& e, const std::vector<int64_t>& rows) const {
    std::vector<int32_t> ids;
    Tensor target({int64_t(rows.size())});
    for (std::size_t i = 0; i < rows.size(); ++i) {
      ids.insert(ids.end(), e.digits.begin() + rows[i] * s_.seq_len, e.digits.begin() + (rows[i] + 1) * s_.seq_len);
      target.data()[i] = e.targets[size_t(rows[i])];
    }
    return sub(model_.forward(ids, int64_t(rows.size()), s_.seq_len), Var(target));
  }
  RegressionSection s_;
  uint64_t seed_;
  Examples train_, val_;
  DigitRegressor model_;
  std::vector<int64_t> batch_;
  uint64_t drawn_ = 0;
};

int main(int argc, char** argv) {
  try {
    std::vector<std::string> paths = {DEFAULT_CONFIG}, overrides;  // section.key=value arguments are overrides
    bool resume = false;
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--resume") == 0) {
        resume = true;
      } else {
        (std::strchr(argv[i], '=') ? overrides : paths).push_back(argv[i]);
      }
    }
    const auto config = load_task_config(paths.back(), "regression", regression_keys(), overrides);
    RegressionTask task(config.task, config.run);
    const TrainResult result =
        resume ? resume_task(task, config.loop, config.loop.out_dir) : run_task(task, config.loop);
    const double r2 = result.evaluation->metric("r2");
    std::printf("validation R² %.3f (predicting the mean scores 0)\n", r2);
    if (!(r2 > 0.5)) {
      std::fprintf(stderr, "custom_task: the model does not beat predicting the mean\n");
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "custom_task: %s\n", e.what());
    return dynamic_cast<const InputError*>(&e) ? 2 : 1;
  }
}
