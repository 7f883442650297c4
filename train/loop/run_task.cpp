// Setting up a run's process and training a task.
#include <tapelm/train/loop/run_task.h>

#include <memory>
#include <utility>

#include <tapelm/train/checkpoint/run_dir.h>
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

TrainResult run_task(TrainingTask& task, const LoopConfig& config, const TrainerOptions& options) {
  const Distributed* dist =
      options.distributed && options.distributed->world_size() > 1 ? options.distributed : nullptr;
  const bool root = !dist || dist->is_root();
  // Rank 0 writes out_dir; the lock keeps a second run out of it.
  const std::unique_ptr<const RunLock> lock = root ? std::make_unique<const RunLock>(config.out_dir) : nullptr;
  std::ostream silent(nullptr);
  std::ostream& log = root ? *options.log : silent;
  start_run_log(task.name() + ": ", config.out_dir.string(), config.train, dist, log);
  return train(task, config, std::nullopt, options);
}

}  // namespace tapelm
