// How a fine-tuning checkpoint is read back. It holds what every training checkpoint holds
// (train/checkpoint/training_checkpoint.h: weights, optimizer state, trainer_state.json, config.yaml, the
// resolved fine-tuning config with model = the architecture used) and the task's files
// (tokenizer.model, labels.json, ...: FinetuneTask::checkpoint_files). Also resolving
// `init_from` (a pretraining checkpoint) into the architecture of a new run.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <tapelm/optim/optimizer.h>
#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/config/finetune_config.h>
#include <tapelm/train/tasks/finetune_task.h>

namespace tapelm {

// A checkpoint written by `tapelm finetune` (rather than `tapelm pretrain`): its config.yaml has
// a top-level `task` key.
bool is_finetune_checkpoint(const Checkpoint& checkpoint);

FinetuneConfig finetune_checkpoint_config(const Checkpoint& checkpoint);
// Strict: every parameter must match by name and shape. CheckpointError naming the file.
void load_task_weights(const Checkpoint& checkpoint, FinetuneTask& task);

// A fine-tuned task ready for evaluation and prediction (weights loaded, eval-ready).
struct FinetunedModel {
  Checkpoint checkpoint;
  FinetuneConfig config;
  std::unique_ptr<FinetuneTask> task;
};
// `adjust_config`, when given, sees the checkpoint's config before the task is built: how a
// command overrides settings that change how the model is used, not what it is (--beam-size
// of predict and eval --data).
FinetunedModel load_finetuned_model(const Checkpoint& checkpoint, std::ostream& log,
                                    const std::function<void(FinetuneConfig&)>& adjust_config = {});

// For a new run with init_from: locates the pretraining checkpoint (a checkpoint or run
// directory), refuses model keys the file or `--set` gave (config.given_keys) that
// disagree with its architecture (model.dropout may differ) and copies its architecture
// into config.model. Returns nullopt when init_from is
// empty. Throws ConfigError / CheckpointError naming init_from.
std::optional<Checkpoint> resolve_init_from(FinetuneConfig& config, std::vector<std::string>* warnings);

}  // namespace tapelm
