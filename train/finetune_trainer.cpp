// The fine-tuning loop: setup (data, task, optimizer, resume), steps, evaluation with early
// stopping and the best checkpoint, checkpoints, the final test evaluation.
#include "train/finetune_trainer.h"

#include <cmath>
#include <memory>

#include "autograd/buffer_pool.h"
#include "data/atomic_file.h"
#include "data/epoch_sampler.h"
#include "nn/summary.h"
#include "optim/param_groups.h"
#include "optim/schedule.h"
#include "train/builders.h"
#include "train/finetune_checkpoint.h"
#include "train/finetune_data.h"
#include "train/finetune_state.h"
#include "train/metrics.h"
#include "train/progress.h"
#include "train/step_outcome.h"
#include "train/suggest.h"
#include "train/trainer.h"
#include "train/training_checkpoint.h"

namespace tapelm {
namespace fs = std::filesystem;

fs::path best_checkpoint_dir(const fs::path& out_dir) { return out_dir / "best"; }

std::vector<ParamGroup> finetune_param_groups(const FinetuneTask& task, const NamedParameters& params,
                                              const FinetuneConfig& config) {
  std::vector<ParamGroup> groups;
  for (ParamGroup& group : weight_decay_groups(params, config.optimizer.weight_decay)) {
    ParamGroup head{"head_" + group.name, {}, config.classification.head_lr_scale, group.weight_decay};
    ParamGroup body{group.name, {}, 1.0, group.weight_decay};
    for (auto& named : group.params) (task.is_head_parameter(named.first) ? head : body).params.push_back(named);
    groups.push_back(std::move(body));
    groups.push_back(std::move(head));
  }
  return groups;
}

namespace {

std::string join_metrics(const std::vector<MetricSpec>& specs) {
  std::string out;
  for (const MetricSpec& spec : specs) out += (out.empty() ? "" : ", ") + spec.name;
  return out;
}

}  // namespace

MetricSpec early_stopping_metric(const FinetuneTask& task, const FinetuneConfig& config) {
  const std::vector<MetricSpec> specs = task.metrics();
  if (config.eval.metric.empty()) return specs.front();
  std::vector<std::string> names;
  for (const MetricSpec& spec : specs) {
    if (spec.name == config.eval.metric) return spec;
    names.push_back(spec.name);
  }
  throw ConfigError("eval.metric: task " + config.task + " has no metric '" + config.eval.metric + "'" +
                    suggestion_suffix(config.eval.metric, names) + " (its metrics: " + join_metrics(specs) + ")");
}

namespace {

// Keeps the example order independent of the init and dropout streams of the same seed.
constexpr uint64_t kShufflerSalt = 0xBB67AE8584CAA73Bull;

using Clock = std::chrono::steady_clock;

std::vector<std::pair<std::string, double>> prefixed(const std::string& prefix, const TaskEvaluation& evaluation) {
  std::vector<std::pair<std::string, double>> fields;
  for (const auto& [name, value] : evaluation.metrics) fields.emplace_back(prefix + name, value);
  return fields;
}

class FinetuneTrainer {
 public:
  FinetuneTrainer(const FinetuneRun& run, const FinetuneOptions& options)
      : run_(run), config_(run.config), out_dir_(config_.out_dir), log_(*options.log),
        progress_bar_(options.progress_bar), stop_requested_(options.stop_requested),
        on_training_start_(options.on_training_start) {}

  FinetuneResult run() {
    setup();
    if (on_training_start_) on_training_start_();
    ProgressDisplay progress(log_, progress_bar_, state_.step, config_.train.max_steps, "ex/s");
    progress_ = &progress;
    FinetuneResult result;
    if (state_.step >= config_.train.max_steps || state_.early_stopped) {
      progress.print("nothing to do: the checkpoint is at step " + std::to_string(state_.step) +
                     (state_.early_stopped ? " and early stopping had ended the run"
                                           : " and train.max_steps is " + std::to_string(config_.train.max_steps)));
    }
    while (state_.step < config_.train.max_steps && !state_.early_stopped) {
      const StepResult step = throughput_.time([&] { return train_step(learning_rate(schedule_, state_.step)); });
      record_step(step);
      if (state_.bad_steps_in_a_row >= config_.train.max_bad_steps) {
        progress.finish();
        throw TrainingDiverged(divergence_message(state_.step, state_.bad_steps_in_a_row, config_.train.max_bad_steps,
                                                  last_checkpoint_));
      }
      const bool last = state_.step == config_.train.max_steps;
      if (last || is_due(state_.step, config_.eval.interval)) evaluate();
      const bool end = last || state_.early_stopped;
      const bool stop = !end && stop_requested_ && stop_requested_();
      if (end || stop || (step.finite && is_due(state_.step, config_.checkpoint.interval))) save_checkpoint();
      if (stop) {
        result.stopped = true;
        break;
      }
    }
    progress.finish();
    progress_ = nullptr;
    result.step = state_.step;
    result.early_stopped = state_.early_stopped;
    result.checkpoint = last_checkpoint_;
    if (state_.best_metric) result.best = locate_checkpoint(best_checkpoint_dir(out_dir_)).dir;
    if (!result.stopped) result.test = test_best(result.best);
    return result;
  }

 private:
  // ---- setup ----

  void setup() {
    const int threads = use_threads(config_.train.threads);
    log_ << "tapelm finetune: task " << config_.task << ", out_dir " << out_dir_.string() << ", "
         << thread_count_text(threads) << std::endl;
    schedule_ = schedule_config(config_.optimizer, config_.scheduler, config_.train.max_steps);
    const fs::path split_file = out_dir_ / "split.json";
    if (!run_.resume_from) fs::remove(split_file);  // a new run splits anew
    data_ = load_finetune_data(config_, split_file);
    const DataSplit& split = data_.split;
    log_ << "data: " << data_.examples.size() << " examples; split " << split.train.size() << " train / "
         << split.val.size() << " val / " << split.test.size() << " test (" << split_file.string() << ")"
         << std::endl;

    TaskSetup setup;
    setup.config = &config_;
    setup.log = &log_;
    setup.work_dir = out_dir_;
    setup.examples = &data_.examples;
    setup.train_indices = &split.train;
    if (run_.resume_from) {
      log_ << "resuming from " << run_.resume_from->dir.string() << " (step " << run_.resume_from->step << ")"
           << std::endl;
      setup.restore_from = &*run_.resume_from;
    } else {
      setup.init_from = run_.init_from ? &*run_.init_from : nullptr;
    }
    task_ = make_finetune_task(setup);
    metric_ = early_stopping_metric(*task_, config_);

    Module& model = task_->model();
    params_ = model.named_parameters();
    for (const auto& named : params_) {
      if (named.second.requires_grad()) trainable_.push_back(named);
    }
    optimizer_ = make_optimizer(config_.optimizer, finetune_param_groups(*task_, params_, config_));
    sampler_ = std::make_unique<EpochSampler>(split.train, uint64_t(config_.seed) ^ kShufflerSalt, length_grouping());
    if (run_.resume_from) restore(*run_.resume_from);
    start_run(out_dir_, to_yaml(config_));
    remove_run_temporaries(best_checkpoint_dir(out_dir_));
    metrics_ = std::make_unique<MetricsLog>(out_dir_ / "metrics.jsonl",
                                            run_.resume_from ? std::optional<int64_t>(state_.step) : std::nullopt,
                                            config_.logging.tensorboard);
    log_ << model_summary(model);
    const TrainSection& t = config_.train;
    log_ << "optimizer: " << config_.optimizer.name << ", lr " << format_float(config_.optimizer.lr)
         << (config_.classification.head_lr_scale != 1.0 && config_.task == "classification"
                 ? " (head x" + format_number(config_.classification.head_lr_scale) + ")"
                 : std::string())
         << ", " << config_.scheduler.name << " schedule; batch " << t.batch_size << " examples (micro-batch "
         << t.micro_batch_size << "); " << t.max_steps << " steps = "
         << format_double("%.2f", double(t.batch_size) * double(t.max_steps) / double(split.train.size()))
         << " epochs; early stopping on val " << metric_.name
         << (config_.eval.patience > 0 ? " (patience " + std::to_string(config_.eval.patience) + ")" : " (off)")
         << std::endl;
  }

  LengthGrouping length_grouping() const {
    LengthGrouping grouping;
    if (!config_.data.group_by_length) return grouping;
    grouping.group_size = size_t(config_.train.micro_batch_size);
    grouping.lengths.reserve(data_.examples.size());
    for (const LabeledExample& e : data_.examples) grouping.lengths.push_back(e.input.size() + e.target.size());
    return grouping;
  }

  void restore(const Checkpoint& checkpoint) {
    const FinetuneConfig before = finetune_checkpoint_config(checkpoint);
    if (to_yaml_section(before) != to_yaml_section(config_)) {
      throw ConfigError("--resume: the task or model architecture differs from " + checkpoint.dir.string() +
                        "'s config.yaml (task, init_from's architecture, model.*, classification.pooling); " +
                        "resume with the config the run started with");
    }
    load_task_weights(checkpoint, *task_);
    const fs::path optimizer_file = checkpoint.file(kOptimizerFile);
    try {
      load_optimizer_state(optimizer_file.string(), *optimizer_);
    } catch (const std::exception& e) {
      throw CheckpointError(optimizer_file.string() + ": " + e.what());
    }
    state_ = finetune_checkpoint_state(checkpoint);
    sampler_->restore(state_.sampler);
    task_->dropout_rng().set_state(state_.dropout.seed, state_.dropout.counter);
    last_checkpoint_ = checkpoint.dir;
    for (const CheckpointDir& newer : list_checkpoint_dirs(out_dir_)) {
      if (newer.step > checkpoint.step) {
        throw InputError("--resume: " + newer.dir.string() + " is newer than the checkpoint resumed from; " +
                         "delete it or resume from it");
      }
    }
  }

  // What a resumed run must not change.
  static std::string to_yaml_section(const FinetuneConfig& c) {
    FinetuneConfig shape;
    shape.out_dir = "-";
    shape.task = c.task;
    shape.model = c.model;
    shape.model.dropout = 0;
    shape.classification.pooling = c.classification.pooling;
    shape.seq2seq = c.seq2seq;
    return to_yaml(shape);
  }

  // ---- steps ----

  StepResult train_step(double lr) {
    const TrainSection& t = config_.train;
    optimizer_->zero_grad();
    const double loss = accumulate_gradients(t.grad_accum_steps(), [&] {
      return task_->loss(data_.examples, sampler_->next(size_t(t.micro_batch_size)));
    });
    last_lr_ = lr;
    const StepResult result = finish_step(*optimizer_, trainable_, loss, t.grad_clip, lr);
    // Batches are padded to their longest example, so activation shapes change from step
    // to step and the buffer pool would keep one buffer of every size it ever saw.
    BufferPool::instance().trim_if_oversized();
    return result;
  }

  void record_step(const StepResult& step) {
    ++state_.step;
    state_.examples_seen += config_.train.batch_size;
    throughput_.add(config_.train.batch_size);
    if (step.finite) {
      state_.bad_steps_in_a_row = 0;
    } else {
      ++state_.skipped_steps;
      ++state_.bad_steps_in_a_row;
      progress_->print(skipped_step_message(state_.step, step.loss, step.grad_norm, state_.bad_steps_in_a_row,
                                            config_.train.max_bad_steps));
    }
    const bool log_line =
        is_due(state_.step, config_.logging.interval) || state_.step == config_.train.max_steps || !step.finite;
    const TrainRecord record{state_.step, step.loss, last_lr_, step.grad_norm, throughput_.per_second(),
                             state_.skipped_steps};
    if (log_line) {
      metrics_->log(state_.step, {{"loss", step.loss},
                                  {"lr", last_lr_},
                                  {"grad_norm", step.grad_norm},
                                  {"examples_per_s", record.tokens_per_s},
                                  {"skipped_steps", double(state_.skipped_steps)}});
      throughput_.reset();
    }
    progress_->step(record, log_line);
  }

  // ---- evaluation and checkpoints ----

  // The validation split, or eval.max_examples of it spread evenly over the split: data files
  // are often sorted (a dictionary is alphabetical), so the first N would not be representative.
  std::vector<size_t> val_indices() const {
    const std::vector<size_t>& all = data_.split.val;
    const size_t cap = size_t(config_.eval.max_examples);
    if (cap == 0 || all.size() <= cap) return all;
    std::vector<size_t> indices(cap);
    for (size_t i = 0; i < cap; ++i) indices[i] = all[i * all.size() / cap];
    return indices;
  }

  void evaluate() {
    const TaskEvaluation evaluation = task_->evaluate(data_.examples, val_indices(), config_.eval.batch_size);
    const double value = evaluation.metric(metric_.name);
    const bool better = std::isfinite(value) &&
                        (!state_.best_metric || (metric_.higher_is_better ? value > *state_.best_metric
                                                                          : value < *state_.best_metric));
    if (better) {
      state_.best_metric = value;
      state_.best_step = state_.step;
      state_.evals_without_improvement = 0;
    } else {
      ++state_.evals_without_improvement;
    }
    const int64_t patience = config_.eval.patience;
    if (!better && patience > 0 && state_.evals_without_improvement >= patience) state_.early_stopped = true;
    metrics_->log(state_.step, prefixed("val_", evaluation));
    if (!evaluation.report.empty()) metrics_->log_text(state_.step, "val_report", evaluation.report);
    progress_->print("step " + std::to_string(state_.step) + ": val " + format_metrics(evaluation) +
                     (better ? " (best so far)"
                             : " (best " + metric_.name + " " + format_double("%.4f", state_.best_metric.value_or(NAN)) +
                                   " at step " + std::to_string(state_.best_step) + ")"));
    if (state_.early_stopped) {
      progress_->print("early stopping: no better val " + metric_.name + " in " + std::to_string(patience) +
                       " evaluations");
    }
    if (better) save_best();
  }

  std::vector<CheckpointFile> checkpoint_files() {
    state_.sampler = sampler_->state();
    state_.dropout = {task_->dropout_rng().seed(), task_->dropout_rng().counter()};
    return finetune_checkpoint_files(*task_, *optimizer_, state_, config_);
  }

  void save_best() {
    const fs::path dir = best_checkpoint_dir(out_dir_);
    const Checkpoint written = write_checkpoint(dir, state_.step, checkpoint_files());
    prune_checkpoints(dir, 1, state_.step);
    progress_->print("best: " + written.dir.string());
  }

  void save_checkpoint() {
    const Checkpoint written = write_checkpoint(out_dir_, state_.step, checkpoint_files());
    last_checkpoint_ = written.dir;
    std::string line = "checkpoint: " + written.dir.string();
    const std::vector<std::string> removed = prune_checkpoints(out_dir_, config_.checkpoint.keep_last, state_.step);
    for (size_t i = 0; i < removed.size(); ++i) line += (i == 0 ? " (removed " : ", ") + removed[i];
    progress_->print(line + (removed.empty() ? "" : ")"));
  }

  // The best checkpoint's weights (or, without one, the final weights) on the test split.
  TaskEvaluation test_best(const fs::path& best) {
    std::string which = "the final model (no finite validation metric, so no best checkpoint)";
    if (!best.empty()) {
      load_task_weights(verify_checkpoint(best), *task_);
      which = "the best checkpoint " + best.string() + " (val " + metric_.name + " " +
              format_double("%.4f", *state_.best_metric) + " at step " + std::to_string(state_.best_step) + ")";
    }
    const TaskEvaluation evaluation = task_->evaluate(data_.examples, data_.split.test, config_.eval.batch_size);
    metrics_->log(state_.best_step, prefixed("test_", evaluation));
    const std::string report = "test split (" + std::to_string(data_.split.test.size()) + " examples), " + which +
                               ":\n" + format_metrics(evaluation) + "\n" + evaluation.report;
    write_file_atomic(out_dir_ / "test_report.txt", report);
    log_ << report << (report.back() == '\n' ? "" : "\n") << std::flush;
    return evaluation;
  }

  const FinetuneRun& run_;
  const FinetuneConfig& config_;
  const fs::path out_dir_;
  std::ostream& log_;
  std::ostream* progress_bar_;
  std::function<bool()> stop_requested_;
  std::function<void()> on_training_start_;

  FinetuneData data_;
  std::unique_ptr<FinetuneTask> task_;
  MetricSpec metric_;
  NamedParameters params_;
  NamedParameters trainable_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<EpochSampler> sampler_;
  ScheduleConfig schedule_;
  std::unique_ptr<MetricsLog> metrics_;

  FinetuneState state_;
  fs::path last_checkpoint_;
  double last_lr_ = 0;
  Throughput throughput_;  // examples per second between log lines
  ProgressDisplay* progress_ = nullptr;  // set while run() steps
};

}  // namespace

FinetuneResult finetune(const FinetuneRun& run, const FinetuneOptions& options) {
  return FinetuneTrainer(run, options).run();
}

}  // namespace tapelm
