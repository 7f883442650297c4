// What a training checkpoint holds (on top of train/checkpoint/checkpoint.h's atomic directories):
//   weights.safetensors    model parameters (nn/safetensors.h): the model to use, i.e. with
//                          train.ema_decay > 0 the exponential moving average of the weights
//                          (optim/ema.h), else the weights themselves
//   train_weights.safetensors  only with train.ema_decay > 0: the weights training continues from
//   optimizer.safetensors  optimizer moments and step counts
//   trainer_state.json     step, data order, early stopping, ... (train/checkpoint/trainer_state.h)
//   config.yaml            the resolved config of the run
//   tokenizer.model        the SentencePiece model the token ids refer to
// and loading them back, for resuming and for `tapelm generate` / `tapelm eval`. A file that
// verifies but cannot be loaded (e.g. weights not matching the config) is a CheckpointError
// naming it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <tapelm/data/tokenizer.h>
#include <tapelm/nn/gpt.h>
#include <tapelm/optim/ema.h>
#include <tapelm/optim/optimizer.h>
#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/config/pretrain_config.h>
#include <tapelm/train/checkpoint/trainer_state.h>

namespace tapelm {

inline constexpr const char* kWeightsFile = "weights.safetensors";
inline constexpr const char* kTrainWeightsFile = "train_weights.safetensors";
inline constexpr const char* kOptimizerFile = "optimizer.safetensors";
inline constexpr const char* kConfigFile = "config.yaml";
inline constexpr const char* kTokenizerFile = "tokenizer.model";

// The files for write_checkpoint of any task: the model's weights, the optimizer's state,
// trainer_state.json and config.yaml, then the task's own files. With `ema`, weights.safetensors
// holds its average and train_weights.safetensors the model's weights. The optimizer's and the
// average's buffers are written from their live state, so write the checkpoint before the next step.
std::vector<CheckpointFile> training_checkpoint_files(const Module& model, const Optimizer& optimizer,
                                                      const TrainerState& state, const std::string& config_yaml,
                                                      std::vector<CheckpointFile> task_files,
                                                      const EmaWeights* ema = nullptr);

// The weights training continues from: train_weights.safetensors when the checkpoint has one,
// else weights.safetensors.
std::filesystem::path checkpoint_train_weights(const Checkpoint& checkpoint);

// The checkpoint's config.yaml, with tokenizer.model cleared: the checkpoint's own
// tokenizer.model is the tokenizer, wherever the original came from.
PretrainConfig checkpoint_config(const Checkpoint& checkpoint);
Tokenizer checkpoint_tokenizer(const Checkpoint& checkpoint);

// Replace the values in place (strict: every parameter / buffer must match by name and shape).
void load_checkpoint_weights(const Checkpoint& checkpoint, GPT& model);
void load_checkpoint_optimizer(const Checkpoint& checkpoint, Optimizer& optimizer);

// A trained model ready for inference: config, tokenizer and a GPT with the saved weights.
struct TrainedModel {
  Checkpoint checkpoint;
  PretrainConfig config;
  Tokenizer tokenizer;
  std::unique_ptr<GPT> model;
};
TrainedModel load_trained_model(const Checkpoint& checkpoint);

}  // namespace tapelm
