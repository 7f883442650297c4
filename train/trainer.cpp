// The pretraining loop: setup (data, model, optimizer, resume), steps, evaluation, checkpoints;
// with several ranks, the data-parallel split of each step (docs/distributed.md).
#include "train/trainer.h"

#include <cmath>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/hash.h"
#include "data/sampler.h"
#include "decode/generate.h"
#include "nn/gpt.h"
#include "nn/summary.h"
#include "optim/schedule.h"
#include "train/builders.h"
#include "train/distributed.h"
#include "train/evaluation.h"
#include "train/loss_plot.h"
#include "train/memory_budget.h"
#include "train/metrics.h"
#include "train/pretrain_setup.h"
#include "train/progress.h"
#include "train/resume.h"
#include "train/run_dir.h"
#include "train/step_outcome.h"
#include "train/training_checkpoint.h"

namespace tapelm {
namespace fs = std::filesystem;
namespace {

// Keeps the batch order independent of the init and dropout streams of the same seed.
constexpr uint64_t kSamplerSalt = 0x6A09E667F3BCC909ull;

// Rank r > 0 of a data-parallel run draws its dropout masks from its own stream (else every
// rank would drop the same units); rank 0 keeps the model's, as a single process would.
uint64_t rank_dropout_seed(uint64_t model_stream_seed, int rank) {
  return hash64(&rank, sizeof rank, model_stream_seed ^ hash64("tapelm rank dropout"));
}

class Trainer {
 public:
  Trainer(const PreparedRun& run, const TrainerOptions& options)
      : run_(run),
        config_(run.config),
        out_dir_(config_.out_dir),
        dist_(options.distributed && options.distributed->world_size() > 1 ? options.distributed : nullptr),
        log_(root() ? *options.log : silent_),
        progress_bar_(root() ? options.progress_bar : nullptr),
        stop_requested_(options.stop_requested),
        on_training_start_(options.on_training_start) {}

  TrainResult run() {
    setup();
    if (on_training_start_) on_training_start_();
    ProgressDisplay progress(log_, progress_bar_, state_.step, config_.train.max_steps);
    progress_ = &progress;
    TrainResult result;
    if (state_.step >= config_.train.max_steps) {
      progress.print("nothing to do: the checkpoint is at step " + std::to_string(state_.step) +
                     " and train.max_steps is " + std::to_string(config_.train.max_steps) +
                     " (raise it with --set train.max_steps=...)");
    }
    while (state_.step < config_.train.max_steps) {
      const StepResult step = throughput_.time([&] { return train_step(learning_rate(schedule_, state_.step)); });
      record_step(step);
      if (state_.bad_steps_in_a_row >= config_.train.max_bad_steps) diverged();
      const bool last = state_.step == config_.train.max_steps;
      const bool stop = !last && stop_requested_anywhere();
      if (last || is_due(state_.step, config_.eval.interval)) evaluate();
      if (last || stop || (step.finite && is_due(state_.step, config_.checkpoint.interval))) save_checkpoint();
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
  // ---- the process group (a world of one when dist_ is null) ----

  bool root() const { return !dist_ || dist_->is_root(); }
  int rank() const { return dist_ ? dist_->rank() : 0; }
  int world() const { return dist_ ? dist_->world_size() : 1; }

  bool stop_requested_anywhere() const {
    const bool here = stop_requested_ && stop_requested_();
    return dist_ ? dist_->all_reduce_sum(here ? 1.0 : 0.0) > 0 : here;
  }

  // ---- setup ----

  void setup() {
    // Under mpirun, automatic threading shares the machine's cores between its ranks.
    const int threads = use_threads(options_threads());
    log_ << "tapelm pretrain: out_dir " << out_dir_.string() << ", "
         << (dist_ ? std::to_string(world()) + " ranks x " : std::string()) << thread_count_text(threads)
         << (dist_ ? " each" : "") << std::endl;
    schedule_ = schedule_config(config_);
    // Rank 0 checks the run and tokenizes and shards the corpus into the cache; the others
    // follow once it succeeded (so an error is reported once, by rank 0) and load the cache.
    if (root()) check_and_prepare_data();
    if (dist_) dist_->barrier();
    if (!root()) check_and_prepare_data();
    build_model();
    if (run_.resume_from) restore(*run_.resume_from);
    state_.world_size = world();
    if (dist_) {
      dist_->broadcast_parameters(params_);
      if (!run_.resume_from && rank() > 0) {
        Rng& dropout = model_->dropout_rng();
        dropout.set_state(rank_dropout_seed(dropout.seed(), rank()), 0);
      }
    }
    if (!root()) return;
    metrics_ = std::make_unique<MetricsLog>(out_dir_ / "metrics.jsonl",
                                            run_.resume_from ? std::optional<int64_t>(state_.step) : std::nullopt,
                                            config_.logging.tensorboard);
    if (!run_.resume_from) std::ofstream(out_dir_ / "samples.txt", std::ios::trunc);
  }

  void check_and_prepare_data() {
    if (run_.resume_from && root()) check_resume();
    accum_ = accumulation_steps(config_.train, world());
    if (root()) accept_run();
    prepare_data();
  }

  int64_t options_threads() const {
    return dist_ && config_.train.threads == 0 ? dist_->threads_per_rank(0) : config_.train.threads;
  }

  // Refuses a checkpoint of another world size and architecture changes, logs the allowed
  // changes. Changes nothing in out_dir.
  void check_resume() {
    const Checkpoint& checkpoint = *run_.resume_from;
    log_ << "resuming from " << checkpoint.dir.string() << " (step " << checkpoint.step << ")" << std::endl;
    const PretrainConfig before = checkpoint_config(checkpoint);
    const int64_t saved_world = checkpoint_trainer_state(checkpoint).world_size;
    if (saved_world != world()) {
      throw InputError(
          checkpoint.file(kTrainerStateFile).string() + ": the checkpoint was written by " +
          std::to_string(saved_world) + " process" + (saved_world == 1 ? "" : "es") + " (world_size " +
          std::to_string(saved_world) + ") but this run has " + std::to_string(world()) +
          "; a different number of ranks sums the gradients in a different order, so the resume would not be exact. " +
          (saved_world == 1 ? std::string("Resume it without mpirun")
                            : "Resume it with mpirun -np " + std::to_string(saved_world)));
    }
    for (const ConfigChange& change : check_resume_config(checkpoint, before, config_)) {
      log_ << "resume: " << change.key << " changed from " << change.before << " to " << change.after << std::endl;
    }
  }

  // The first changes to out_dir, once every check passed: abandoned checkpoints (which may
  // still refuse the resume), leftovers of killed runs, config.yaml.
  void accept_run() {
    if (run_.resume_from) {
      for (const std::string& removed : remove_abandoned_checkpoints(out_dir_, run_.resume_from->step)) {
        log_ << "resume: " << removed << std::endl;
      }
    }
    start_run(out_dir_, to_yaml(config_));
  }

  void prepare_data() {
    const std::string tokenizer_model =
        run_.resume_from ? run_.resume_from->file(kTokenizerFile).string() : std::string();
    data_ = std::make_unique<PreparedData>(prepare_pretrain_data(config_, tokenizer_model, log_));
    const ShardSet& shards = data_->shards;
    const int64_t ctx = config_.model.ctx_len;
    sampler_ = std::make_unique<RandomSampler>(shards.train, ctx, uint64_t(config_.seed) ^ kSamplerSalt);
    val_sampler_ = std::make_unique<SequentialSampler>(shards.val, ctx);
  }

  void build_model() {
    // Again now that the tokenizer, and so the vocabulary, is known.
    const MemoryEstimate memory =
        estimate_memory(config_.model, pretrain_memory_plan(config_, data_->tokenizer.vocab_size()));
    require_memory_fits(memory, config_.train.memory_check, "the run", kTrainingMemoryHint);
    log_ << "memory: at least " << format_bytes(memory.total_bytes()) << " (" << describe_memory(memory) << ")"
         << std::endl;
    model_ = std::make_unique<GPT>(gpt_config(config_.model, data_->tokenizer.vocab_size(), uint64_t(config_.seed)));
    model_->train();
    params_ = model_->named_parameters();
    optimizer_ = make_optimizer(config_.optimizer, params_);
    log_ << model_summary(*model_);
    log_ << "optimizer: " << config_.optimizer.name << ", lr " << format_float(config_.optimizer.lr) << ", "
         << config_.scheduler.name << " schedule (" << config_.scheduler.warmup_steps << " warmup steps, min_lr "
         << format_float(config_.scheduler.min_lr) << ")" << std::endl;
    log_ << describe_batches(config_, accum_, world(), data_->shards.train.size()) << std::endl;
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
    RngState dropout = state_.dropout;
    if (dist_) {
      // Each rank's own stream, from rank 0's reading of the checkpoint.
      std::vector<std::vector<uint64_t>> per_rank;
      for (const RngState& rng : state_.dropout_per_rank) per_rank.push_back({rng.seed, rng.counter});
      const std::vector<uint64_t> mine = dist_->scatter(per_rank);
      dropout = {mine[0], mine[1]};
    }
    model_->dropout_rng().set_state(dropout.seed, dropout.counter);
    last_checkpoint_ = checkpoint.dir;
  }

  // ---- steps ----

  StepResult train_step(double lr) {
    const TrainSection& t = config_.train;
    const int64_t T = config_.model.ctx_len;
    optimizer_->zero_grad();
    double loss = accumulate_gradients(accum_, [&] {
      sampler_->next(t.micro_batch_size, x_, y_, rank(), world());
      return model_->loss(x_, y_, t.micro_batch_size, T, {}, kIgnoreIndex, float(t.label_smoothing));
    });
    if (dist_) {
      // Identical gradients on every rank: clipping, the finiteness check and the step agree.
      dist_->average_gradients(params_);
      loss = dist_->all_reduce_sum(loss) / double(world());
    }
    last_lr_ = lr;
    return finish_step(*optimizer_, params_, loss, t.grad_clip, lr);
  }

  void record_step(const StepResult& step) {
    const int64_t tokens = config_.train.batch_size * config_.model.ctx_len;
    ++state_.step;
    state_.tokens_seen += tokens;
    throughput_.add(tokens);
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
    TrainRecord record{state_.step, step.loss, last_lr_, step.grad_norm, throughput_.per_second(),
                       state_.skipped_steps};
    if (log_line) {
      if (metrics_) metrics_->log(record);
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

  // Rank 0 alone evaluates (the same windows and sums as a single process would); the others
  // wait for it at the next step's first collective.
  void evaluate() {
    if (!root()) return;
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
      text = generate_text(*model_, data_->tokenizer, s.prompt, decoding_options(s, uint64_t(config_.seed)));
    } catch (const std::invalid_argument& e) {  // non-finite logits from a diverging model
      progress_->print("no sample at step " + std::to_string(state_.step) + ": " + e.what());
      return;
    }
    progress_->print("sample at step " + std::to_string(state_.step) + ":\n" + text);
    metrics_->log_text(state_.step, "sample", text);
    std::ofstream samples(out_dir_ / "samples.txt", std::ios::app);
    samples << "=== step " << state_.step << " (val_loss " << format_double("%.4f", last_val_loss_.value_or(NAN))
            << ") ===\n" << text << "\n\n";
  }

  void save_checkpoint() {
    state_.sampler = {sampler_->seed(), sampler_->counter()};
    state_.dropout = {model_->dropout_rng().seed(), model_->dropout_rng().counter()};
    if (dist_) {
      state_.dropout_per_rank.clear();
      for (const std::vector<uint64_t>& rng : dist_->gather({state_.dropout.seed, state_.dropout.counter})) {
        state_.dropout_per_rank.push_back({rng[0], rng[1]});
      }
    }
    if (!root()) return;
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
  const Distributed* dist_;  // null for a world of one
  std::ostream silent_{nullptr};  // the log of ranks other than 0: discards everything
  std::ostream& log_;
  std::ostream* progress_bar_;
  std::function<bool()> stop_requested_;
  std::function<void()> on_training_start_;
  ProgressDisplay* progress_ = nullptr;

  std::unique_ptr<PreparedData> data_;
  std::unique_ptr<RandomSampler> sampler_;
  std::unique_ptr<SequentialSampler> val_sampler_;
  std::unique_ptr<GPT> model_;
  NamedParameters params_;
  std::unique_ptr<Optimizer> optimizer_;
  ScheduleConfig schedule_;
  int64_t accum_ = 1;  // micro-batches per rank and step
  std::unique_ptr<MetricsLog> metrics_;

  TrainerState state_;
  fs::path last_checkpoint_;
  std::optional<double> last_val_loss_;
  double last_lr_ = 0;
  std::string png_problem_;  // non-empty once the PNG failed: not retried
  std::vector<int32_t> x_, y_;
  Throughput throughput_;  // tokens per second between log lines
};

}  // namespace

TrainResult train(const PreparedRun& run, const TrainerOptions& options) {
  return Trainer(run, options).run();
}

}  // namespace tapelm
