// The one training loop: setup (optimizer, resume, out_dir), steps, evaluation with early
// stopping and the best checkpoint, checkpoints, the final test evaluation; with several
// ranks, the data-parallel split of each step (docs/distributed.md).
#include <tapelm/train/loop/training_loop.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <tapelm/autograd/buffer_pool.h>
#include <tapelm/autograd/elementwise.h>
#include <tapelm/autograd/tape.h>
#include <tapelm/data/atomic_file.h>
#include <tapelm/nn/safetensors.h>
#include <tapelm/nn/summary.h>
#include <tapelm/optim/ema.h>
#include <tapelm/optim/schedule.h>
#include <tapelm/train/config/builders.h>
#include <tapelm/train/config/memory_estimate.h>
#include <tapelm/train/loop/distributed.h>
#include <tapelm/train/loop/loss_plot.h>
#include <tapelm/train/loop/metrics.h>
#include <tapelm/train/loop/micro_batch_shares.h>
#include <tapelm/train/loop/progress.h>
#include <tapelm/train/checkpoint/average_checkpoints.h>
#include <tapelm/train/checkpoint/resume.h>
#include <tapelm/train/checkpoint/run_dir.h>
#include <tapelm/train/loop/step_outcome.h>
#include <tapelm/train/config/suggest.h>
#include <tapelm/train/checkpoint/trainer_state.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace fs = std::filesystem;

fs::path best_checkpoint_dir(const fs::path& out_dir) { return out_dir / "best"; }
fs::path average_checkpoint_dir(const fs::path& out_dir) { return out_dir / "average"; }

MetricSpec early_stopping_metric(const std::vector<MetricSpec>& metrics, const std::string& wanted,
                                 const std::string& task_name) {
  if (wanted.empty()) return metrics.front();
  std::vector<std::string> names;
  std::string listed;
  for (const MetricSpec& spec : metrics) {
    if (spec.name == wanted) return spec;
    names.push_back(spec.name);
    listed += (listed.empty() ? "" : ", ") + spec.name;
  }
  throw ConfigError("eval.metric: task " + task_name + " has no metric '" + wanted + "'" +
                    suggestion_suffix(wanted, names) + " (its metrics: " + listed + ")");
}

int64_t accumulation_steps(const TrainSection& train, int world) {
  // The config loader turns micro_batch_size 0 into batch_size; a LoopConfig built in code
  // may still hold it.
  if (train.batch_size < 1 || train.micro_batch_size < 1) {
    throw ConfigError("train.batch_size (" + std::to_string(train.batch_size) + ") and train.micro_batch_size (" +
                      std::to_string(train.micro_batch_size) + ") must be positive");
  }
  const int64_t share = train.micro_batch_size * world;
  if (train.batch_size % share != 0) {
    throw ConfigError("train.batch_size (" + std::to_string(train.batch_size) + ") must be a multiple of " +
                      "train.micro_batch_size (" + std::to_string(train.micro_batch_size) + ") x " +
                      std::to_string(world) + " ranks = " + std::to_string(share) +
                      ", so every rank gets the same share of each batch; change train.batch_size or "
                      "train.micro_batch_size (--set train.micro_batch_size=...), or the number of ranks");
  }
  return train.batch_size / share;
}

std::string describe_batches(const TrainSection& train, int64_t accumulation, int world, int64_t per_example,
                             double epoch_examples) {
  const int64_t B = train.batch_size;
  const std::string examples = per_example > 1 ? " sequences x " + std::to_string(per_example) + " tokens = " +
                                                     std::to_string(B * per_example) + " tokens"
                                               : " examples";
  const std::string split = world > 1 ? std::to_string(world) + " ranks x micro-batch " +
                                            std::to_string(train.micro_batch_size) + " x " + std::to_string(accumulation)
                                      : "micro-batch " + std::to_string(train.micro_batch_size) + ", " +
                                            std::to_string(accumulation);
  return "batch: " + std::to_string(B) + examples + " per step (" + split + " accumulation step" +
         (accumulation == 1 ? "" : "s") + "); " + std::to_string(train.max_steps) +
         (train.max_steps == 1 ? " step = " : " steps = ") +
         format_double("%.2f", double(B) * double(train.max_steps) / epoch_examples) + " epochs of the training data";
}

std::string describe_ema(double ema_decay) {
  return ema_decay > 0 ? "evaluating the EMA of the weights, decay " + format_number(ema_decay) : "";
}

namespace {

std::vector<std::pair<std::string, double>> prefixed(const std::string& prefix, const TaskEvaluation& evaluation) {
  std::vector<std::pair<std::string, double>> fields;
  for (const auto& [name, value] : evaluation.metrics) fields.emplace_back(prefix + name, value);
  for (const auto& [name, value] : evaluation.baselines) fields.emplace_back(prefix + name, value);
  return fields;
}

NamedParameters parameters_of(const std::vector<ParamGroup>& groups) {
  NamedParameters params;
  for (const ParamGroup& group : groups) params.insert(params.end(), group.params.begin(), group.params.end());
  return params;
}

class Loop {
 public:
  Loop(TrainingTask& task, const LoopConfig& config, const std::optional<Checkpoint>& resume_from,
       const TrainerOptions& options)
      : task_(task),
        config_(config),
        resume_from_(resume_from),
        out_dir_(config.out_dir),
        dist_(options.distributed && options.distributed->world_size() > 1 ? options.distributed : nullptr),
        log_(root() ? *options.log : silent_),
        progress_bar_(root() ? options.progress_bar : nullptr),
        stop_requested_(options.stop_requested),
        on_training_start_(options.on_training_start),
        unit_(task.throughput_unit()) {}

  TrainResult run() {
    setup();
    if (on_training_start_) on_training_start_();
    ProgressDisplay progress(log_, progress_bar_, state_.step, config_.train.max_steps, unit_.display);
    progress_ = &progress;
    TrainResult result;
    if (state_.step >= config_.train.max_steps || state_.early_stopped) {
      progress.print("nothing to do: the checkpoint is at step " + std::to_string(state_.step) +
                     (state_.early_stopped ? " and early stopping had ended the run"
                                           : " and train.max_steps is " + std::to_string(config_.train.max_steps) +
                                                 " (raise it with --set train.max_steps=...)"));
    }
    while (state_.step < config_.train.max_steps && !state_.early_stopped) {
      const StepResult step = throughput_.time([&] { return train_step(learning_rate(schedule_, state_.step)); });
      record_step(step);
      if (state_.bad_steps_in_a_row >= config_.train.max_bad_steps) diverged();
      const bool last = state_.step == config_.train.max_steps;
      if (last || is_due(state_.step, config_.eval_interval)) evaluate();
      const bool end = last || state_.early_stopped;
      const bool stop = !end && stop_requested_anywhere();
      if (end || stop || (step.finite && is_due(state_.step, config_.checkpoint.interval))) save_checkpoint();
      if (stop) {
        result.stopped = true;
        break;
      }
    }
    progress.finish();
    progress_ = nullptr;
    if (root()) log_memory();
    result.step = state_.step;
    result.early_stopped = state_.early_stopped;
    result.checkpoint = last_checkpoint_;
    result.evaluation = last_evaluation_;
    const bool has_best = root() && config_.checkpoint.keep_best && state_.best_metric;
    if (has_best) result.best = best_checkpoint().dir;
    if (result.stopped) return result;
    const bool average_wins = config_.checkpoint.average_last > 0 && evaluate_average(result.average);
    if (config_.checkpoint.average_last == 0 && root()) note_earlier_average();
    if (task_.has_split(Split::kTest)) result.test = test_best(has_best, average_wins);
    return result;
  }

 private:
  // ---- the process group (a world of one when dist_ is null) ----

  bool root() const { return !dist_ || dist_->is_root(); }
  int rank() const { return dist_ ? dist_->rank() : 0; }
  int world() const { return dist_ ? dist_->world_size() : 1; }

  bool stop_requested_anywhere() const {
    const bool here = stop_requested_ && stop_requested_();
    return dist_ ? dist_->all_reduce_sum(here ? 1.0 : 0.0) > 0 : here;
  }

  // The tensors' measured peak, beside the estimate some tasks print before training.
  void log_memory() {
    const BufferPool& pool = BufferPool::instance();
    const double held = static_cast<double>(pool.live_bytes() + pool.cached_bytes());
    log_ << "memory: tensors peaked at " << format_bytes(static_cast<double>(pool.peak_live_bytes()))
         << " live; the buffer pool holds " << format_bytes(held) << std::endl;
  }

  // ---- setup ----

  void setup() {
    accum_ = accumulation_steps(config_.train, world());
    schedule_ = schedule_config(config_.optimizer, config_.scheduler, config_.train.max_steps);
    metric_ = early_stopping_metric(task_.metrics(), config_.eval_metric, task_.name());
    const std::vector<ParamGroup> groups = task_.param_groups();
    trainable_ = parameters_of(groups);
    optimizer_ = make_optimizer(config_.optimizer, groups);
    if (resume_from_) restore(*resume_from_);
    state_.world_size = world();
    if (dist_) dist_->broadcast_parameters(task_.model().named_parameters());
    if (config_.train.ema_decay > 0) start_average();
    if (root()) accept_run();
    describe();
  }

  void restore(const Checkpoint& checkpoint) {
    log_ << "resuming from " << checkpoint.dir.string() << " (step " << checkpoint.step << ")" << std::endl;
    const fs::path weights = checkpoint_train_weights(checkpoint);
    load_from(weights, [&] { load_parameters(weights.string(), task_.model().named_parameters(), /*strict=*/true); });
    const fs::path optimizer = checkpoint.file(kOptimizerFile);
    load_from(optimizer, [&] { load_optimizer_state(optimizer.string(), *optimizer_); });
    state_ = checkpoint_trainer_state(checkpoint, unit_.per_example);
    if (state_.step != checkpoint.step) {
      throw CheckpointError(checkpoint.dir.string() + ": trainer state at step " + std::to_string(state_.step) +
                            " but the checkpoint is step " + std::to_string(checkpoint.step));
    }
    const fs::path state_file = checkpoint.has(kTrainerStateFile) ? checkpoint.file(kTrainerStateFile)
                                                                  : checkpoint.file(kFinetuneStateFileV1);
    load_from(state_file, [&] { task_.restore_sampler(state_.sampler); });
    if (state_.world_size != world()) {
      log_ << "resume: the checkpoint was written by " << state_.world_size << " process"
           << (state_.world_size == 1 ? "" : "es") << ", this run has " << world()
           << "; each step sees the same examples and dropout masks, but the gradients are summed in another order"
           << std::endl;
    }
    last_checkpoint_ = checkpoint.dir;
  }

  // The average starts at the weights training starts from, or continues the resumed
  // checkpoint's (one written without an average has none to continue).
  void start_average() {
    ema_ = std::make_unique<EmaWeights>(task_.model().named_parameters(), trainable_, config_.train.ema_decay);
    if (!resume_from_ || !resume_from_->has(kTrainWeightsFile)) return;
    const fs::path weights = resume_from_->file(kWeightsFile);
    load_from(weights, [&] { load_parameters(weights.string(), ema_->averaged(), /*strict=*/true); });
    if (dist_) dist_->broadcast_parameters(ema_->averaged());
  }

  // The first changes to out_dir, once every check passed: abandoned checkpoints set aside,
  // leftovers of killed runs removed, config.yaml, the metrics log.
  void accept_run() {
    // A best checkpoint newer than the resumed step, or any of a new run, came from another
    // run: the test evaluation must never pick it up.
    const int64_t kept = resume_from_ ? resume_from_->step : -1;
    std::vector<std::string> lines = set_aside_checkpoints(out_dir_, out_dir_, kept);
    for (std::string& line : set_aside_checkpoints(out_dir_, best_checkpoint_dir(out_dir_), kept, "best-")) {
      lines.push_back(std::move(line));
    }
    for (std::string& line : set_aside_checkpoints(out_dir_, average_checkpoint_dir(out_dir_), kept, "average-")) {
      lines.push_back(std::move(line));
    }
    for (const std::string& line : lines) log_ << (resume_from_ ? "resume: " : "") << line << std::endl;
    if (!resume_from_) fs::remove(out_dir_ / "samples.txt");
    start_run(out_dir_, config_.config_yaml);
    remove_run_temporaries(best_checkpoint_dir(out_dir_));
    remove_run_temporaries(average_checkpoint_dir(out_dir_));
    metrics_ = std::make_unique<MetricsLog>(out_dir_ / "metrics.jsonl",
                                            resume_from_ ? std::optional<int64_t>(state_.step) : std::nullopt,
                                            config_.logging.tensorboard);
  }

  void describe() {
    log_ << model_summary(task_.model());
    std::string scaled;
    for (const ParamGroup& group : optimizer_->groups()) {
      if (group.lr_scale != 1.0 && !group.params.empty()) {
        scaled += (scaled.empty() ? " (" : ", ") + group.name + " x" + format_number(group.lr_scale);
      }
    }
    log_ << "optimizer: " << config_.optimizer.name << ", lr " << format_float(config_.optimizer.lr)
         << (scaled.empty() ? "" : scaled + ")") << ", " << config_.scheduler.name << " schedule ("
         << config_.scheduler.warmup_steps << " warmup steps, min_lr " << format_float(config_.scheduler.min_lr)
         << ")" << std::endl;
    log_ << describe_batches(config_.train, accum_, world(), unit_.per_example, task_.epoch_examples())
         << "; early stopping on val " << metric_.name
         << (config_.patience > 0 ? " (patience " + std::to_string(config_.patience) + ")" : " (off)") << std::endl;
    if (ema_) log_ << describe_ema(ema_->decay()) << std::endl;
  }

  // ---- steps ----

  StepResult train_step(double lr) {
    const int64_t m = config_.train.micro_batch_size;
    optimizer_->zero_grad();
    task_.draw_batch(config_.train.batch_size);
    // Each micro-batch's backward adds the gradient of its mean loss times its weight; the sum
    // over micro-batches and ranks divided by the total weight is the gradient of the global
    // batch's mean loss, however the batch was split.
    std::vector<double> totals = {0.0, 0.0};  // weighted loss, weight
    for (const int64_t k : my_micro_batches()) {
      const int64_t begin = k * m;
      WeightedLoss loss = task_.loss(state_.step, begin, begin + m);
      totals[0] += double(loss.mean.item()) * loss.weight;
      totals[1] += loss.weight;
      Var weighted = loss.mean * float(loss.weight);
      backward(weighted);
    }
    if (dist_) dist_->all_reduce_sum(totals);
    const double weight = totals[1] > 0 ? totals[1] : 1.0;
    if (dist_) {
      dist_->sum_gradients(trainable_, weight);
    } else {
      divide_gradients(trainable_, weight);
    }
    last_lr_ = lr;
    const StepResult result = finish_step(*optimizer_, trainable_, totals[0] / weight, config_.train.grad_clip, lr);
    if (ema_ && result.finite) ema_->update(state_.step);
    return result;
  }

  // This rank's micro-batches of the batch drawn last (k covers its rows [k·m, (k+1)·m)).
  std::vector<int64_t> my_micro_batches() const {
    const int64_t m = config_.train.micro_batch_size;
    std::vector<double> costs(size_t(accum_ * world()));
    for (size_t k = 0; k < costs.size(); ++k) costs[k] = task_.micro_batch_cost(int64_t(k) * m, int64_t(k + 1) * m);
    return share_micro_batches(costs, world())[size_t(rank())];
  }

  void record_step(const StepResult& step) {
    const int64_t batch = config_.train.batch_size;
    ++state_.step;
    state_.examples_seen += batch;
    throughput_.add(batch * unit_.per_example);
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
      if (metrics_) metrics_->log(record, unit_.metric);
      throughput_.reset();
    }
    progress_->step(record, log_line);
  }

  [[noreturn]] void diverged() {
    progress_->finish();
    throw TrainingDiverged(divergence_message(state_.step, state_.bad_steps_in_a_row, config_.train.max_bad_steps,
                                              last_checkpoint_));
  }

  // ---- evaluation and checkpoints ----

  bool improves(double value) const { return better(value, state_.best_metric); }

  // A finite value beats no value or a non-finite one.
  bool better(double value, std::optional<double> than) const {
    if (!std::isfinite(value)) return false;
    if (!than || !std::isfinite(*than)) return true;
    return metric_.higher_is_better ? value > *than : value < *than;
  }

  // Evaluation's shapes (whole validation batches, beams) are not training's: each phase starts
  // from an empty pool rather than carving up the other's cached buffers (BufferPool::trim).
  // With `average`, the model evaluated is the average of the weights when the run keeps one.
  TaskEvaluation evaluate_split(Split split, bool average) {
    BufferPool::instance().trim();
    TaskEvaluation evaluation = [&] {
      const EmaInParameters averaged(average ? ema_.get() : nullptr);
      return task_.evaluate(split, dist_);
    }();
    BufferPool::instance().trim();
    return evaluation;
  }

  // Every rank evaluates its share and gets the same metrics, so the early-stopping decision
  // is the same everywhere; rank 0 writes.
  void evaluate() {
    const TaskEvaluation evaluation = evaluate_split(Split::kVal, /*average=*/true);
    last_evaluation_ = evaluation;
    const double value = evaluation.metric(metric_.name);
    const bool better = improves(value);
    if (better) {
      state_.best_metric = value;
      state_.best_step = state_.step;
      state_.evals_without_improvement = 0;
    } else {
      ++state_.evals_without_improvement;
    }
    const int64_t patience = config_.patience;
    if (!better && patience > 0 && state_.evals_without_improvement >= patience) state_.early_stopped = true;
    if (!root()) return;
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
    plot();
    sample(evaluation);
    if (better && config_.checkpoint.keep_best) save_best();
  }

  void plot() {
    const std::string title = out_dir_.filename().string() + ": step " + std::to_string(state_.step);
    write_loss_svg(out_dir_ / "loss.svg", metrics_->history(), title);
    if (!png_problem_.empty()) return;
    png_problem_ = write_loss_png(out_dir_ / "loss.png", metrics_->history(), title);
    if (!png_problem_.empty() && png_problem_ != "gnuplot is not on PATH") {
      progress_->print("loss.png not written (" + png_problem_ + "); loss.svg has the plot");
    }
  }

  void sample(const TaskEvaluation& evaluation) {
    std::optional<std::string> text;
    try {
      const EmaInParameters averaged(ema_.get());
      text = task_.sample();
    } catch (const std::invalid_argument& e) {  // non-finite logits from a diverging model
      progress_->print("no sample at step " + std::to_string(state_.step) + ": " + e.what());
      return;
    }
    if (!text) return;
    progress_->print("sample at step " + std::to_string(state_.step) + ":\n" + *text);
    metrics_->log_text(state_.step, "sample", *text);
    std::ofstream samples(out_dir_ / "samples.txt", std::ios::app);
    samples << "=== step " << state_.step << " (val " << format_metrics(evaluation) << ") ===\n" << *text << "\n\n";
  }

  std::vector<CheckpointFile> checkpoint_files() {
    state_.sampler = task_.sampler_state();
    return training_checkpoint_files(task_.model(), *optimizer_, state_, config_.config_yaml,
                                     task_.checkpoint_files(), ema_.get());
  }

  // The checkpoint of the best validation metric: the one of state_.best_step, whatever else
  // the folder holds.
  Checkpoint best_checkpoint() const {
    return verify_checkpoint(checkpoints_dir(best_checkpoint_dir(out_dir_)) / checkpoint_dir_name(state_.best_step));
  }

  void save_best() {
    const fs::path dir = best_checkpoint_dir(out_dir_);
    const Checkpoint written = write_checkpoint(dir, state_.step, checkpoint_files());
    prune_checkpoints(dir, 1, state_.step);
    progress_->print("best: " + written.dir.string());
  }

  void save_checkpoint() {
    if (!root()) return;
    const Checkpoint written = write_checkpoint(out_dir_, state_.step, checkpoint_files());
    last_checkpoint_ = written.dir;
    std::string line = "checkpoint: " + written.dir.string();
    const std::vector<std::string> removed = prune_checkpoints(out_dir_, config_.checkpoint.keep_last, state_.step);
    for (size_t i = 0; i < removed.size(); ++i) line += (i == 0 ? " (removed " : ", ") + removed[i];
    progress_->print(line + (removed.empty() ? "" : ")"));
  }

  // checkpoint.average_last: rank 0 writes the mean of the newest checkpoints' weights to
  // <out_dir>/average and every rank evaluates it on the validation split. It wins (true, the same
  // on every rank) when it beats what the test split would score otherwise: the best checkpoint,
  // or without one the model of the last validation. The parameters then hold the average; a
  // loser gives them back. An average that cannot be made (a checkpoint gone or unreadable, a
  // full disk) is logged and leaves the test split to the best checkpoint.
  bool evaluate_average(fs::path& written) {
    const std::vector<std::vector<float>> kept = parameter_values();
    std::vector<Checkpoint> inputs;
    if (root()) {
      try {
        std::vector<std::string> skipped;
        inputs = newest_checkpoints(out_dir_, config_.checkpoint.average_last, &skipped);
        for (const std::string& reason : skipped) log_ << "average: " << reason << std::endl;
        if (inputs.size() < 2) {
          log_ << "average: not written, the run has " << inputs.size() << " valid checkpoint"
               << (inputs.size() == 1 ? "" : "s") << " (checkpoint.interval sets how often one is written)"
               << std::endl;
          inputs.clear();
        } else {
          std::reverse(inputs.begin(), inputs.end());  // oldest first
          const fs::path dir = average_checkpoint_dir(out_dir_);
          const Checkpoint average = write_checkpoint(dir, inputs.back().step, averaged_checkpoint_files(inputs));
          prune_checkpoints(dir, 1, average.step);
          const fs::path weights = average.file(kWeightsFile);
          load_from(weights,
                    [&] { load_parameters(weights.string(), task_.model().named_parameters(), /*strict=*/true); });
          written = average.dir;
        }
      } catch (const std::exception& e) {
        log_ << "average: not written: " << e.what() << std::endl;
        inputs.clear();
        written.clear();
        restore_parameter_values(kept);
      }
    }
    const double count = dist_ ? dist_->all_reduce_sum(double(inputs.size())) : double(inputs.size());
    if (count < 2) return false;
    if (dist_) dist_->broadcast_parameters(task_.model().named_parameters());
    const TaskEvaluation evaluation = evaluate_split(Split::kVal, /*average=*/false);
    const bool keeps_best = config_.checkpoint.keep_best && state_.best_metric;
    const std::optional<double> rival =
        keeps_best ? state_.best_metric
                   : last_evaluation_ ? std::optional<double>(last_evaluation_->metric(metric_.name)) : std::nullopt;
    const bool wins = better(evaluation.metric(metric_.name), rival);
    if (!wins) restore_parameter_values(kept);
    if (!root()) return wins;
    metrics_->log(inputs.back().step, prefixed("average_val_", evaluation));
    std::string steps;
    for (const Checkpoint& input : inputs) steps += (steps.empty() ? "" : ", ") + std::to_string(input.step);
    average_label_ = "the average of the checkpoints of steps " + steps + " " + written.string() + " (val " +
                     metric_.name + " " + format_double("%.4f", evaluation.metric(metric_.name)) + ")";
    average_step_ = inputs.back().step;
    const std::string against = keeps_best ? "the best checkpoint's" : "the final model's";
    log_ << "average of " << inputs.size() << " checkpoints (steps " << steps << "): val " << format_metrics(evaluation)
         << "; " << (wins ? "better than " : "not better than ") << against << " " << metric_.name << " "
         << format_double("%.4f", rival.value_or(NAN)) << "; " << written.string() << std::endl;
    return wins;
  }

  // An average written before a resume that turned checkpoint.average_last off stays where
  // the run's own average would be: say so, lest it be taken for one of the final weights.
  void note_earlier_average() {
    const std::vector<CheckpointDir> earlier = list_checkpoint_dirs(average_checkpoint_dir(out_dir_));
    if (earlier.empty() || earlier.back().step >= state_.step) return;
    log_ << "note: " << earlier.back().dir.string() << " is the average of checkpoints up to step "
         << earlier.back().step << ", written before this resume; checkpoint.average_last is 0, so it was not "
         << "updated" << std::endl;
  }

  std::vector<std::vector<float>> parameter_values() {
    std::vector<std::vector<float>> values;
    for (auto& [name, param] : task_.model().named_parameters()) {
      values.emplace_back(param.data(), param.data() + param.numel());
    }
    return values;
  }

  void restore_parameter_values(const std::vector<std::vector<float>>& values) {
    NamedParameters params = task_.model().named_parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      std::copy(values[i].begin(), values[i].end(), params[i].second.data());
    }
  }

  // The model the run found best on the validation split, on the test split: the average of
  // its last checkpoints when that won (the parameters hold it already), else the best
  // checkpoint (or, without one, the final weights or their moving average).
  TaskEvaluation test_best(bool has_best, bool average_wins) {
    const std::string why = config_.checkpoint.keep_best ? "no finite validation metric, so no best checkpoint"
                                                         : "checkpoint.keep_best is off";
    std::string which = ema_ ? "the final model's EMA weights (train.ema_decay " + format_number(ema_->decay()) +
                                   "; " + why + ")"
                             : "the final model (" + why + ")";
    int64_t step = state_.best_step;
    bool use_best = !average_wins && (dist_ ? dist_->all_reduce_sum(has_best ? 1.0 : 0.0) > 0 : has_best);
    if (average_wins) {
      which = average_label_ + ", better on the validation split than the alternative";
      step = average_step_;
    } else if (use_best) {
      if (root()) {
        const Checkpoint best = best_checkpoint();
        const fs::path weights = best.file(kWeightsFile);
        load_from(weights,
                  [&] { load_parameters(weights.string(), task_.model().named_parameters(), /*strict=*/true); });
        which = "the best checkpoint " + best.dir.string() + " (val " + metric_.name + " " +
                format_double("%.4f", *state_.best_metric) + " at step " + std::to_string(state_.best_step) + ")";
      }
      if (dist_) dist_->broadcast_parameters(task_.model().named_parameters());
    }
    // The checkpoints' weights.safetensors hold the moving average already.
    const TaskEvaluation evaluation = evaluate_split(Split::kTest, /*average=*/!use_best && !average_wins);
    if (!root()) return evaluation;
    metrics_->log(step, prefixed("test_", evaluation));
    const std::string report = "test split (" + std::to_string(task_.split_examples(Split::kTest)) + " examples), " +
                               which + ":\n" + format_metrics(evaluation) + "\n" + evaluation.report;
    write_file_atomic(out_dir_ / "test_report.txt", report);
    log_ << report << (report.back() == '\n' ? "" : "\n") << std::flush;
    return evaluation;
  }

  TrainingTask& task_;
  const LoopConfig& config_;
  const std::optional<Checkpoint>& resume_from_;
  const fs::path out_dir_;
  const Distributed* dist_;  // null for a world of one
  std::ostream silent_{nullptr};  // the log of ranks other than 0: discards everything
  std::ostream& log_;
  std::ostream* progress_bar_;
  std::function<bool()> stop_requested_;
  std::function<void()> on_training_start_;
  const ThroughputUnit unit_;
  ProgressDisplay* progress_ = nullptr;  // set while run() steps

  MetricSpec metric_;
  NamedParameters trainable_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<EmaWeights> ema_;  // null with train.ema_decay 0
  ScheduleConfig schedule_;
  int64_t accum_ = 1;  // micro-batches per rank and step
  std::unique_ptr<MetricsLog> metrics_;  // rank 0 only

  TrainerState state_;
  fs::path last_checkpoint_;
  std::optional<TaskEvaluation> last_evaluation_;
  std::string average_label_;  // checkpoint.average_last's average, as the test report names it (rank 0)
  int64_t average_step_ = 0;   // the newest averaged checkpoint's step (rank 0)
  double last_lr_ = 0;
  std::string png_problem_;  // non-empty once the PNG failed: not retried
  Throughput throughput_;    // units per second between log lines
};

}  // namespace

TrainResult train(TrainingTask& task, const LoopConfig& config, const std::optional<Checkpoint>& resume_from,
                  const TrainerOptions& options) {
  return Loop(task, config, resume_from, options).run();
}

}  // namespace tapelm
