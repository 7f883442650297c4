// Setting up a run's process and training a task.
#include <tapelm/train/checkpoint/average_checkpoints.h>
#include <tapelm/train/loop/run_task.h>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/checkpoint/run_dir.h>
#include <tapelm/train/config/errors.h>
#include <tapelm/train/config/builders.h>
#include <tapelm/train/loop/distributed.h>

namespace tapelm {

LoopConfig loop_config(const RunConfig& config, std::string resolved_yaml) {
  LoopConfig loop;
  loop.out_dir = config.out_dir;
  loop.config_yaml = std::move(resolved_yaml);
  loop.optimizer = config.optimizer;
  loop.scheduler = config.scheduler;
  loop.train = config.train;
  loop.eval_interval = config.eval.interval;
  loop.eval_metric = config.eval.metric;
  loop.patience = config.eval.patience;
  loop.logging = config.logging;
  loop.checkpoint = config.checkpoint;
  return loop;
}

void start_run_log(const std::string& what, const std::string& out_dir, const TrainSection& train,
                   const Distributed* dist, std::ostream& log) {
  const int threads = start_threads(train.threads, dist);
  const std::string products = use_gemm(train, log);
  log << "tapelm " << what << "out_dir " << out_dir << ", "
      << (dist ? std::to_string(dist->world_size()) + " ranks x " : std::string()) << thread_count_text(threads)
      << (dist ? " each" : "") << ", " << products << std::endl;
  accumulation_steps(train, dist ? dist->world_size() : 1);
}

const Distributed* several_ranks(const TrainerOptions& options) {
  return options.distributed && options.distributed->world_size() > 1 ? options.distributed : nullptr;
}

namespace {

// Runs `setup` on rank 0 and gives its outcome to every rank: an exception is thrown again on
// rank 0 and as an InputError with its message on the others, so that no rank waits in a
// collective call for one that gave up.
void on_root_for_every_rank(const Distributed* dist, const std::function<void()>& setup) {
  if (!dist) return setup();
  std::exception_ptr failure;
  std::string message;
  if (dist->is_root()) {
    try {
      setup();
    } catch (const std::exception& e) {
      failure = std::current_exception();
      message = *e.what() ? e.what() : "rank 0 could not start the run";
    }
  }
  dist->broadcast(message);
  if (failure) std::rethrow_exception(failure);
  if (!message.empty()) throw InputError(message);
}

// Rank 0 locks out_dir (a second run is kept out of it) and picks the checkpoint to continue
// from, the other ranks open its choice; then the run's first line, then training.
TrainResult locked_run(TrainingTask& task, const LoopConfig& config, const std::filesystem::path* resume,
                       const TrainerOptions& options) {
  const Distributed* dist = several_ranks(options);
  const bool root = !dist || dist->is_root();
  std::ostream silent(nullptr);
  std::ostream& log = root ? *options.log : silent;
  std::unique_ptr<const RunLock> lock;
  std::optional<Checkpoint> from;
  on_root_for_every_rank(dist, [&] {
    lock = std::make_unique<const RunLock>(config.out_dir);
    if (!resume && !list_checkpoint_dirs(config.out_dir).empty()) {
      throw InputError(config.out_dir.string() + ": already holds checkpoints from an earlier run; continue it " +
                       "with resume_task, or choose another out_dir");
    }
    if (!resume) return;
    std::vector<std::string> skipped;
    from = locate_checkpoint(*resume, &skipped);
    require_resumable(*from);
    for (const std::string& warning : skipped) log << "warning: " << warning << std::endl;
  });
  if (dist && resume) {
    std::string from_dir = root ? from->dir.string() : std::string();
    dist->broadcast(from_dir);
    std::string error;
    if (!root) {
      try {
        from = verify_checkpoint(from_dir);
      } catch (const CheckpointError& e) {
        error = e.what();
      }
    }
    // Every rank learns whether any rank could not open the checkpoint.
    if (dist->all_reduce_sum(error.empty() ? 0.0 : 1.0) > 0) {
      throw CheckpointError(error.empty() ? "another rank could not open the checkpoint " + from_dir : error);
    }
  }
  start_run_log(task.name() + ": ", config.out_dir.string(), config.train, dist, log);
  return train(task, config, from, options);
}

}  // namespace

TrainResult run_task(TrainingTask& task, const LoopConfig& config, const TrainerOptions& options) {
  return locked_run(task, config, nullptr, options);
}

TrainResult resume_task(TrainingTask& task, const LoopConfig& config, const std::filesystem::path& from,
                        const TrainerOptions& options) {
  return locked_run(task, config, &from, options);
}

}  // namespace tapelm
