// Preparing a pretraining or fine-tuning run, building its task and training it.
#include <tapelm/train/cli/training_runs.h>

#include <iostream>

#include <tapelm/train/config/builders.h>
#include <tapelm/train/tasks/causal_lm_task.h>
#include <tapelm/train/loop/distributed.h>
#include <tapelm/train/loop/run_task.h>
#include <tapelm/train/checkpoint/average_checkpoints.h>
#include <tapelm/train/checkpoint/finetune_checkpoint.h>
#include <tapelm/train/tasks/labeled_training_task.h>
#include <tapelm/train/config/memory_budget.h>
#include <tapelm/train/config/memory_estimate.h>
#include <tapelm/train/checkpoint/resume.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace fs = std::filesystem;
namespace {

// Refuses architecture changes against the checkpoint's config, logs the allowed changes.
void check_pretrain_resume(const Checkpoint& checkpoint, const PretrainConfig& config, std::ostream& log) {
  for (const ConfigChange& change : check_resume_config(checkpoint, checkpoint_config(checkpoint), config)) {
    log << "resume: " << change.key << " changed from " << change.before << " to " << change.after << std::endl;
  }
}

}  // namespace

RunStart start_training_run(const TrainCommandArgs& args, const fs::path& out_dir) {
  RunStart start;
  start.lock = std::make_shared<const RunLock>(out_dir);
  if (!args.resume) {
    if (!list_checkpoint_dirs(out_dir).empty()) {
      throw InputError(out_dir.string() + ": already holds checkpoints from an earlier run; pass --resume to " +
                       "continue it, or choose another out_dir (--set out_dir=...)");
    }
    return start;
  }
  if (args.resume_from.empty() && list_checkpoint_dirs(out_dir).empty()) {
    throw InputError("--resume: " + out_dir.string() + " has no checkpoints to resume from");
  }
  try {
    start.resume_from = locate_checkpoint(args.resume_from.empty() ? out_dir : fs::path(args.resume_from),
                                          &start.warnings);
  } catch (const CheckpointError& e) {
    throw CheckpointError(std::string("--resume: ") + e.what());
  }
  require_resumable(*start.resume_from);
  return start;
}

PretrainConfig load_pretrain_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  PretrainConfig config = load_config<PretrainConfig>(path, overrides);
  require_memory_fits(estimate_memory(config.model, pretrain_memory_plan(config, planned_vocab_size(config.tokenizer))),
                      config.train.memory_check, path, kTrainingMemoryHint);
  return config;
}

FinetuneConfig load_finetune_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  FinetuneConfig config = load_config<FinetuneConfig>(path, overrides);
  require_memory_fits(estimate_memory(config.model, finetune_memory_plan(config)), config.train.memory_check, path,
                      kTrainingMemoryHint);
  return config;
}

PreparedRun prepare_pretrain(const PretrainArgs& args) {
  PreparedRun run;
  run.config = load_pretrain_run_config(args.config_path, args.overrides);
  static_cast<RunStart&>(run) = start_training_run(args, run.config.out_dir);
  if (run.resume_from && is_finetune_checkpoint(*run.resume_from)) {
    throw CheckpointError("--resume: " + run.resume_from->dir.string() +
                          " is a fine-tuning checkpoint; resume it with tapelm finetune");
  }
  return run;
}

FinetuneRun prepare_finetune(const FinetuneArgs& args) {
  FinetuneRun run;
  run.config = load_finetune_run_config(args.config_path, args.overrides);
  static_cast<RunStart&>(run) = start_training_run(args, run.config.out_dir);
  if (run.resume_from) {
    if (!is_finetune_checkpoint(*run.resume_from)) {
      throw CheckpointError("--resume: " + run.resume_from->dir.string() + " is not a fine-tuning checkpoint");
    }
    if (!run.config.init_from.empty()) {
      // The architecture came from init_from when the run started; the checkpoint has it.
      const double dropout = run.config.model.dropout;
      run.config.model = finetune_checkpoint_config(*run.resume_from).model;
      run.config.model.dropout = dropout;
    }
  } else {
    run.init_from = resolve_init_from(run.config, &run.warnings);
  }
  // Again when the architecture came from a checkpoint (init_from), not from this config.
  if (!run.config.init_from.empty()) {
    require_memory_fits(estimate_memory(run.config.model, finetune_memory_plan(run.config)),
                        run.config.train.memory_check, args.config_path, kTrainingMemoryHint);
  }
  return run;
}

LoopConfig loop_config(const PretrainConfig& config) { return loop_config(config, to_yaml(config)); }

LoopConfig loop_config(const FinetuneConfig& config) { return loop_config(config, to_yaml(config)); }

TrainResult pretrain(const PreparedRun& run, const TrainerOptions& options) {
  const Distributed* dist = several_ranks(options);
  const bool root = !dist || dist->is_root();
  std::ostream silent(nullptr);
  std::ostream& log = root ? *options.log : silent;
  const PretrainConfig& config = run.config;
  start_run_log("pretrain: ", config.out_dir, config.train, dist, log);
  if (run.resume_from && root) check_pretrain_resume(*run.resume_from, config, log);
  const std::string tokenizer_model = run.resume_from ? run.resume_from->file(kTokenizerFile).string() : "";
  // Rank 0 tokenizes and shards the corpus into the cache; the others follow once it
  // succeeded (so an error is reported once, by rank 0) and load the cache.
  std::unique_ptr<CausalLmTask> task;
  if (root) task = std::make_unique<CausalLmTask>(config, tokenizer_model, log);
  if (dist) dist->barrier();
  if (!root) task = std::make_unique<CausalLmTask>(config, tokenizer_model, silent);
  return train(*task, loop_config(config), run.resume_from, options);
}

TrainResult finetune(const FinetuneRun& run, const TrainerOptions& options) {
  const Distributed* dist = several_ranks(options);
  const bool root = !dist || dist->is_root();
  std::ostream silent(nullptr);
  std::ostream& log = root ? *options.log : silent;
  const FinetuneConfig& config = run.config;
  start_run_log("finetune: task " + config.task + ", ", config.out_dir, config.train, dist, log);
  const std::unique_ptr<LabeledTrainingTask> task =
      make_labeled_training_task(config, run.init_from, run.resume_from, dist, log);
  return train(*task, loop_config(config), run.resume_from, options);
}

}  // namespace tapelm
