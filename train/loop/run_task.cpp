// Setting up a run's process and training a task.
#include <tapelm/train/loop/run_task.h>

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

namespace {

const Distributed* several_ranks(const TrainerOptions& options) {
  return options.distributed && options.distributed->world_size() > 1 ? options.distributed : nullptr;
}

// Locks out_dir on rank 0 (a second run is kept out of it), logs the run's first line, picks the
// checkpoint to continue from (rank 0 chooses, the others open its choice), then trains.
TrainResult locked_run(TrainingTask& task, const LoopConfig& config, const std::filesystem::path* resume,
                       const TrainerOptions& options) {
  const Distributed* dist = several_ranks(options);
  const bool root = !dist || dist->is_root();
  const std::unique_ptr<const RunLock> lock = root ? std::make_unique<const RunLock>(config.out_dir) : nullptr;
  std::ostream silent(nullptr);
  std::ostream& log = root ? *options.log : silent;
  std::optional<Checkpoint> from;
  std::string from_dir;
  if (root && !resume && !list_checkpoint_dirs(config.out_dir).empty()) {
    throw InputError(config.out_dir.string() + ": already holds checkpoints from an earlier run; continue it " +
                     "with resume_task, or choose another out_dir");
  }
  if (root && resume) {
    std::vector<std::string> skipped;
    from = locate_checkpoint(*resume, &skipped);
    for (const std::string& warning : skipped) log << "warning: " << warning << std::endl;
    from_dir = from->dir.string();
  }
  if (dist && resume) {
    dist->broadcast(from_dir);
    if (!root) from = verify_checkpoint(from_dir);
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
