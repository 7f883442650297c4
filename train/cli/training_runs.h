// From a command's arguments to a trained run, for `tapelm pretrain` and `tapelm finetune`
// alike: the checks before anything is built (config, out_dir lock, the checkpoint to resume
// from or to start from), then the task each config describes, handed to the one training
// loop (train/loop/training_loop.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/config/pretrain_config.h>
#include <tapelm/train/config/finetune_config.h>
#include <tapelm/train/checkpoint/run_dir.h>
#include <tapelm/train/loop/training_loop.h>

namespace tapelm {

// pretrain / finetune CONFIG [--set section.key=value ...] [--resume [PATH]]
struct TrainCommandArgs {
  std::string config_path;
  std::vector<std::string> overrides;  // applied in order, after the file
  bool resume = false;
  std::string resume_from;  // a checkpoint or run directory; empty = the config's out_dir
};
using PretrainArgs = TrainCommandArgs;
using FinetuneArgs = TrainCommandArgs;

// What every training command settles before its task is built: out_dir is locked
// (train/checkpoint/run_dir.h), an out_dir that already holds checkpoints is refused unless resuming,
// and the checkpoint to resume from is located and verified. Nothing in out_dir changes yet;
// the loop writes config.yaml once it accepted the run.
struct RunStart {
  std::shared_ptr<const RunLock> lock;  // held while any copy lives; null on ranks other than 0
  std::optional<Checkpoint> resume_from;
  std::vector<std::string> warnings;  // e.g. newer checkpoints skipped as corrupted
};

// Throws InputError / CheckpointError naming out_dir or --resume.
RunStart start_training_run(const TrainCommandArgs& args, const std::filesystem::path& out_dir);

struct PreparedRun : RunStart {
  PretrainConfig config;
};

struct FinetuneRun : RunStart {
  FinetuneConfig config;                // resolved: with init_from, model = its architecture
  std::optional<Checkpoint> init_from;  // the pretraining checkpoint (new runs only)
};

// The validated config, with a model that cannot fit in memory refused before any data work
// (the task checks again once the data has given the vocabulary or init_from the architecture).
PretrainConfig load_pretrain_run_config(const std::string& path, const std::vector<std::string>& overrides);
FinetuneConfig load_finetune_run_config(const std::string& path, const std::vector<std::string>& overrides);

// The config, the run start, and for fine-tuning the resolved init_from (its architecture
// copied into the config; on resume, the checkpoint's).
PreparedRun prepare_pretrain(const PretrainArgs& args);
FinetuneRun prepare_finetune(const FinetuneArgs& args);

// The shared sections of either config, for the loop.
LoopConfig loop_config(const PretrainConfig& config);
LoopConfig loop_config(const FinetuneConfig& config);

// Builds the task (pretraining: tokenizing and sharding the corpus, rank 0 first under MPI;
// fine-tuning: the labeled data, its split and the task's model) and trains it. Every rank
// calls it with the run it prepared (ranks other than 0 without the lock).
TrainResult pretrain(const PreparedRun& run, const TrainerOptions& options = {});
TrainResult finetune(const FinetuneRun& run, const TrainerOptions& options = {});

}  // namespace tapelm
