// A training task whose model is one vector drifting at a constant rate under SGD (loss
// w·(1, −2)), for tests of the training loop: its weights after any step are known in closed
// form, and each step's starting weights are recorded.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <tapelm/autograd/elementwise.h>
#include <tapelm/autograd/reduce.h>
#include <tapelm/train/loop/training_loop.h>

namespace tapelm::testing {

class Drift : public Module {
 public:
  Drift() {
    Tensor start({2});
    start.data()[0] = 1.0f;
    start.data()[1] = -1.0f;
    w = register_parameter("w", start);
    Tensor fixed({1});
    fixed.data()[0] = 0.5f;
    frozen = register_parameter("frozen", fixed, /*requires_grad=*/false);
  }
  Var w, frozen;
};

// Loss w·(1, −2): SGD moves w by lr·(−1, 2) per step. Its "metrics" are w itself.
class DriftTask : public TrainingTask {
 public:
  std::string name() const override { return "drift"; }
  Module& model() override { return model_; }
  std::vector<ParamGroup> param_groups() const override { return {ParamGroup{"all", {{"w", model_.w}}}}; }
  ThroughputUnit throughput_unit() const override { return {"examples_per_s", "ex/s", 1}; }
  double epoch_examples() const override { return 1; }
  void draw_batch(int64_t) override {}
  WeightedLoss loss(int64_t, int64_t, int64_t) override {
    weights_seen.push_back({model_.w.data()[0], model_.w.data()[1]});
    Tensor direction({2});
    direction.data()[0] = 1.0f;
    direction.data()[1] = -2.0f;
    return {sum_all(mul(model_.w, Var(direction))), 1.0};
  }
  std::vector<MetricSpec> metrics() const override { return {{"w0", false}, {"w1", true}}; }
  bool has_split(Split) const override { return true; }
  int64_t split_examples(Split) const override { return 1; }
  TaskEvaluation evaluate(Split, const Distributed*) override {
    return {{{"w0", model_.w.data()[0]}, {"w1", model_.w.data()[1]}}, ""};
  }
  nlohmann::json sampler_state() const override { return nlohmann::json::object(); }
  void restore_sampler(const nlohmann::json&) override {}
  std::vector<CheckpointFile> checkpoint_files() const override { return {}; }

  std::vector<std::vector<float>> weights_seen;  // w before each step

 private:
  Drift model_;
};

inline TrainerOptions logging_to(std::ostream& log) {
  TrainerOptions options;
  options.log = &log;
  return options;
}

// 12 SGD steps of lr 0.1 at a constant rate, one example per step, evaluated and
// checkpointed every 4; `ema_decay` 0 = no average.
inline LoopConfig drift_config(const std::filesystem::path& out_dir, double ema_decay) {
  std::filesystem::create_directories(out_dir);  // as run_task does
  LoopConfig c;
  c.out_dir = out_dir;
  c.optimizer.name = "sgd";
  c.optimizer.lr = 0.1;
  c.optimizer.weight_decay = 0;
  c.scheduler.name = "constant";
  c.train.max_steps = 12;
  c.train.batch_size = 1;
  c.train.micro_batch_size = 1;
  c.train.grad_clip = 0;
  c.train.ema_decay = ema_decay;
  c.eval_interval = 4;
  c.checkpoint.interval = 4;
  c.checkpoint.keep_last = 0;
  return c;
}

}  // namespace tapelm::testing
