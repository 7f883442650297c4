// The pretraining loop: setup (data, model, optimizer, resume), steps, evaluation, checkpoints.
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "autograd/elementwise.h"
#include "autograd/tape.h"
#include "data/dataset.h"
#include "data/sampler.h"
#include "nn/gpt.h"
#include "nn/summary.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "train/builders.h"
#include "train/evaluation.h"
#include "train/loss_plot.h"
#include "train/metrics.h"
#include "train/progress.h"
#include "train/resume.h"
#include "train/sampling.h"
#include "train/training_checkpoint.h"

namespace tapelm {
namespace fs = std::filesystem;
namespace {

// Keeps the batch order independent of the init and dropout streams of the same seed.
constexpr uint64_t kSamplerSalt = 0x6A09E667F3BCC909ull;

using Clock = std::chrono::steady_clock;

struct StepResult {
  double loss = 0;
  double grad_norm = 0;
  bool finite = true;
};

class Trainer {
 public:
  Trainer(const PreparedRun& run, const TrainerOptions& options)
      : run_(run),
        config_(run.config),
        out_dir_(config_.out_dir),
        log_(*options.log),
        progress_bar_(options.progress_bar),
        stop_requested_(options.stop_requested) {}

  TrainResult run() {
    setup();
    ProgressDisplay progress(log_, progress_bar_, state_.step, config_.train.max_steps);
    progress_ = &progress;
    TrainResult result;
    if (state_.step >= config_.train.max_steps) {
      progress.print("nothing to do: the checkpoint is at step " + std::to_string(state_.step) +
                     " and train.max_steps is " + std::to_string(config_.train.max_steps) +
                     " (raise it with --set train.max_steps=...)");
    }
    while (state_.step < config_.train.max_steps) {
      const StepResult step = timed_step();
      record_step(step);
      if (state_.bad_steps_in_a_row >= config_.train.max_bad_steps) diverged();
      const bool last = state_.step == config_.train.max_steps;
      const bool stop = !last && stop_requested_ && stop_requested_();
      if (last || due(config_.eval.interval)) evaluate();
      if (last || stop || (step.finite && due(config_.checkpoint.interval))) save_checkpoint();
      if (stop) {
        result.status = TrainStatus::kStopped;
        break;
      }
    }
    progress.finish();
    progress_ = nullptr;
    result.step = state_.step;
    result.checkpoint = last_checkpoint_;
    result.val_loss = last_val_loss_;
    return result;
  }

 private:
  // ---- setup ----

  void setup() {
    const int threads = use_threads(config_.train.threads);
    log_ << "tapelm pretrain: out_dir " << out_dir_.string() << ", " << threads << " thread"
         << (threads == 1 ? "" : "s") << std::endl;
    schedule_ = schedule_config(config_);  // before the data work: an impossible schedule fails fast
    if (run_.resume_from) check_resume();
    prepare_data();
    build_model();
    if (run_.resume_from) restore(*run_.resume_from);
    metrics_ = std::make_unique<MetricsLog>(out_dir_ / "metrics.jsonl",
                                            run_.resume_from ? std::optional<int64_t>(state_.step) : std::nullopt);
    if (!run_.resume_from) std::ofstream(out_dir_ / "samples.txt", std::ios::trunc);
  }

  // Refuses architecture changes, logs the allowed ones, clears out abandoned checkpoints.
  void check_resume() {
    const Checkpoint& checkpoint = *run_.resume_from;
    log_ << "resuming from " << checkpoint.dir.string() << " (step " << checkpoint.step << ")" << std::endl;
    const PretrainConfig before = checkpoint_config(checkpoint);
    for (const ConfigChange& change : check_resume_config(checkpoint, before, config_)) {
      log_ << "resume: " << change.key << " changed from " << change.before << " to " << change.after << std::endl;
    }
    for (const std::string& removed : remove_abandoned_checkpoints(out_dir_, checkpoint.step)) {
      log_ << "resume: " << removed << std::endl;
    }
  }

  void prepare_data() {
    const std::string tokenizer_model =
        run_.resume_from ? run_.resume_from->file(kTokenizerFile).string() : std::string();
    try {
      data_ = std::make_unique<PreparedData>(tapelm::prepare_data(data_config(config_, tokenizer_model)));
    } catch (const std::invalid_argument& e) {  // a missing source, an empty corpus, ...
      throw InputError(std::string("data: ") + e.what());
    } catch (const std::runtime_error& e) {  // invalid UTF-8, a vocab_size the corpus cannot fill, ...
      throw InputError(std::string("data: ") + e.what());
    }
    const Tokenizer& tok = data_->tokenizer;
    const ShardSet& shards = data_->shards;
    log_ << "tokenizer: " << data_->tokenizer_path << " (" << (data_->tokenizer_trained ? "trained now" : "loaded")
         << "), " << tok.vocab_size() << " pieces" << std::endl;
    log_ << "data: " << shards.train.size() << " training tokens, " << shards.val.size() << " validation tokens ("
         << shards.folder << ", " << (shards.built ? "built now" : "cached") << ")" << std::endl;
    const int64_t ctx = config_.model.ctx_len;
    const auto require_tokens = [&](const TokenDataset& set, const std::string& what, const std::string& key) {
      if (set.size() < uint64_t(ctx) + 1) {
        throw ConfigError(key + ": the " + what + " data has " + std::to_string(set.size()) +
                          " tokens, fewer than model.ctx_len + 1 = " + std::to_string(ctx + 1) +
                          " (give more text or a shorter ctx_len)");
      }
    };
    require_tokens(shards.train, "training", "data.train");
    require_tokens(shards.val, "validation", config_.data.val.empty() ? "data.val_fraction" : "data.val");
    sampler_ = std::make_unique<RandomSampler>(shards.train, ctx, uint64_t(config_.seed) ^ kSamplerSalt);
    val_sampler_ = std::make_unique<SequentialSampler>(shards.val, ctx);
  }

  void build_model() {
    model_ = std::make_unique<GPT>(gpt_config(config_.model, data_->tokenizer.vocab_size(), uint64_t(config_.seed)));
    model_->train();
    params_ = model_->named_parameters();
    optimizer_ = make_optimizer(config_.optimizer, params_);
    log_ << model_summary(*model_);
    const TrainSection& t = config_.train;
    const int64_t tokens_per_step = t.batch_size * config_.model.ctx_len;
    log_ << "optimizer: " << config_.optimizer.name << ", lr " << format_float(config_.optimizer.lr) << ", "
         << config_.scheduler.name << " schedule (" << config_.scheduler.warmup_steps << " warmup steps, min_lr "
         << format_float(config_.scheduler.min_lr) << ")" << std::endl;
    log_ << "batch: " << t.batch_size << " sequences x " << config_.model.ctx_len << " tokens = " << tokens_per_step
         << " tokens per step (micro-batch " << t.micro_batch_size << ", " << t.grad_accum_steps()
         << " accumulation steps); " << t.max_steps << " steps = "
         << format_double("%.2f", double(tokens_per_step * t.max_steps) / double(data_->shards.train.size()))
         << " epochs of the training data" << std::endl;
  }

  void restore(const Checkpoint& checkpoint) {
    load_checkpoint_weights(checkpoint, *model_);
    load_checkpoint_optimizer(checkpoint, *optimizer_);
    state_ = checkpoint_trainer_state(checkpoint);
    if (state_.step != checkpoint.step) {
      throw CheckpointError(checkpoint.file(kTrainerStateFile).string() + ": step " + std::to_string(state_.step) +
                            " but the checkpoint is step " + std::to_string(checkpoint.step));
    }
    sampler_->restore(state_.sampler.seed, state_.sampler.counter);
    model_->dropout_rng().set_state(state_.dropout.seed, state_.dropout.counter);
    last_checkpoint_ = checkpoint.dir;
  }

  // ---- steps ----

  StepResult timed_step() {
    const Clock::time_point start = Clock::now();
    const StepResult result = train_step(learning_rate(schedule_, state_.step));
    interval_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
    return result;
  }

  StepResult train_step(double lr) {
    const TrainSection& t = config_.train;
    const int64_t accum = t.grad_accum_steps();
    const int64_t T = config_.model.ctx_len;
    optimizer_->zero_grad();
    double loss_sum = 0;
    for (int64_t i = 0; i < accum; ++i) {
      sampler_->next(t.micro_batch_size, x_, y_);
      Var loss = model_->loss(x_, y_, t.micro_batch_size, T);
      loss_sum += loss.item();
      // The mean over micro-batches: each backward adds 1/accum of its gradient.
      if (accum > 1) loss = loss * (1.0f / float(accum));
      backward(loss);
    }
    StepResult result;
    result.loss = loss_sum / double(accum);
    result.grad_norm = t.grad_clip > 0 ? clip_grad_norm(params_, t.grad_clip) : grad_norm(params_);
    result.finite = std::isfinite(result.loss) && std::isfinite(result.grad_norm);
    if (result.finite) {
      optimizer_->step(lr);
    } else {
      optimizer_->zero_grad();
    }
    last_lr_ = lr;
    return result;
  }

  bool due(int64_t interval) const { return interval > 0 && state_.step % interval == 0; }

  void record_step(const StepResult& step) {
    const int64_t tokens = config_.train.batch_size * config_.model.ctx_len;
    ++state_.step;
    state_.tokens_seen += tokens;
    interval_tokens_ += tokens;
    if (step.finite) {
      state_.bad_steps_in_a_row = 0;
    } else {
      ++state_.skipped_steps;
      ++state_.bad_steps_in_a_row;
      progress_->print("step " + std::to_string(state_.step) + ": non-finite " +
                       (std::isfinite(step.loss) ? "gradient norm (" + format_double("%g", step.grad_norm) + ")"
                                                 : "loss (" + format_double("%g", step.loss) + ")") +
                       ", step skipped (" + std::to_string(state_.bad_steps_in_a_row) + " in a row; the run stops at " +
                       std::to_string(config_.train.max_bad_steps) + ")");
    }
    const bool log_line = due(config_.logging.interval) || state_.step == config_.train.max_steps || !step.finite;
    TrainRecord record{state_.step, step.loss, last_lr_, step.grad_norm,
                       interval_seconds_ > 0 ? double(interval_tokens_) / interval_seconds_ : 0.0,
                       state_.skipped_steps};
    if (log_line) {
      metrics_->log(record);
      interval_tokens_ = 0;
      interval_seconds_ = 0;
    }
    progress_->step(record, log_line);
  }

  [[noreturn]] void diverged() {
    progress_->finish();
    const int64_t n = state_.bad_steps_in_a_row;
    throw TrainingDiverged(
        "training diverged: steps " + std::to_string(state_.step - n + 1) + " to " + std::to_string(state_.step) +
        " all had a non-finite loss or gradient norm (train.max_bad_steps = " +
        std::to_string(config_.train.max_bad_steps) + "); no checkpoint was written for them. " +
        (last_checkpoint_.empty() ? std::string("No checkpoint had been written yet.")
                                  : "The last good checkpoint is " + last_checkpoint_.string() + ".") +
        " Lower optimizer.lr or train.grad_clip, then resume with --resume");
  }

  // ---- evaluation and checkpoints ----

  void evaluate() {
    const LossTotal total =
        evaluate_windows(*model_, *val_sampler_, config_.train.micro_batch_size, config_.eval.batches);
    const double loss = total.mean();
    last_val_loss_ = loss;
    const bool best = std::isfinite(loss) && (!state_.best_val_loss || loss < *state_.best_val_loss);
    if (best) state_.best_val_loss = loss;
    metrics_->log(EvalRecord{state_.step, loss, total.perplexity()});
    progress_->print("step " + std::to_string(state_.step) + ": val_loss " + format_double("%.4f", loss) + " (ppl " +
                     format_double("%.2f", total.perplexity()) + ", " + std::to_string(total.tokens) + " tokens)" +
                     (best ? " best so far" : ""));
    plot();
    sample();
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

  void sample() {
    const SampleSection& s = config_.sample;
    if (s.max_new_tokens == 0) return;
    std::string text;
    try {
      text = generate_text(*model_, data_->tokenizer, s.prompt, sampling_options(s, uint64_t(config_.seed)));
    } catch (const std::invalid_argument& e) {  // non-finite logits from a diverging model
      progress_->print("no sample at step " + std::to_string(state_.step) + ": " + e.what());
      return;
    }
    progress_->print("sample at step " + std::to_string(state_.step) + ":\n" + text);
    std::ofstream samples(out_dir_ / "samples.txt", std::ios::app);
    samples << "=== step " << state_.step << " (val_loss " << format_double("%.4f", last_val_loss_.value_or(NAN))
            << ") ===\n" << text << "\n\n";
  }

  void save_checkpoint() {
    state_.sampler = {sampler_->seed(), sampler_->counter()};
    state_.dropout = {model_->dropout_rng().seed(), model_->dropout_rng().counter()};
    const Checkpoint written = write_checkpoint(
        out_dir_, state_.step, training_checkpoint_files(*model_, *optimizer_, state_, config_, data_->tokenizer));
    last_checkpoint_ = written.dir;
    std::string line = "checkpoint: " + written.dir.string();
    const std::vector<std::string> removed = prune_checkpoints(out_dir_, config_.checkpoint.keep_last, state_.step);
    for (size_t i = 0; i < removed.size(); ++i) line += (i == 0 ? " (removed " : ", ") + removed[i];
    progress_->print(line + (removed.empty() ? "" : ")"));
  }

  const PreparedRun& run_;
  const PretrainConfig& config_;
  const fs::path out_dir_;
  std::ostream& log_;
  std::ostream* progress_bar_;
  std::function<bool()> stop_requested_;
  ProgressDisplay* progress_ = nullptr;

  std::unique_ptr<PreparedData> data_;
  std::unique_ptr<RandomSampler> sampler_;
  std::unique_ptr<SequentialSampler> val_sampler_;
  std::unique_ptr<GPT> model_;
  NamedParameters params_;
  std::unique_ptr<Optimizer> optimizer_;
  ScheduleConfig schedule_;
  std::unique_ptr<MetricsLog> metrics_;

  TrainerState state_;
  fs::path last_checkpoint_;
  std::optional<double> last_val_loss_;
  double last_lr_ = 0;
  std::string png_problem_;  // non-empty once the PNG failed: not retried
  std::vector<int32_t> x_, y_;
  int64_t interval_tokens_ = 0;
  double interval_seconds_ = 0;
};

}  // namespace

TrainResult train(const PreparedRun& run, const TrainerOptions& options) {
  return Trainer(run, options).run();
}

}  // namespace tapelm
