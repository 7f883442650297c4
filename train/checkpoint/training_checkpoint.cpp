// Writing and reading the files of a training checkpoint.
#include <tapelm/train/checkpoint/training_checkpoint.h>

#include <string>

#include <tapelm/nn/safetensors.h>
#include <tapelm/train/config/builders.h>
#include <tapelm/train/config/config_schema.h>
#include <tapelm/train/config/memory_budget.h>
#include <tapelm/data/atomic_file.h>

namespace tapelm {

std::vector<CheckpointFile> training_checkpoint_files(const Module& model, const Optimizer& optimizer,
                                                      const TrainerState& state, const std::string& config_yaml,
                                                      std::vector<CheckpointFile> task_files,
                                                      const EmaWeights* ema) {
  const TensorMetadata step = {{"step", std::to_string(state.step)}};
  const auto weights_file = [](std::string name, NamedParameters params, TensorMetadata metadata) {
    return CheckpointFile{std::move(name), [params = std::move(params), metadata](const std::filesystem::path& path) {
                            save_parameters(path.string(), params, metadata);
                          }};
  };
  std::vector<CheckpointFile> files;
  if (ema) {
    TensorMetadata averaged = step;
    averaged["ema_decay"] = format_number(ema->decay());
    files.push_back(weights_file(kWeightsFile, ema->averaged(), averaged));
    files.push_back(weights_file(kTrainWeightsFile, model.named_parameters(), step));
  } else {
    files.push_back(weights_file(kWeightsFile, model.named_parameters(), step));
  }
  files.push_back(CheckpointFile{kOptimizerFile, [&optimizer, step](const std::filesystem::path& path) {
                                   save_optimizer_state(path.string(), optimizer, step);
                                 }});
  files.push_back(CheckpointFile::from_bytes(kTrainerStateFile, to_json(state)));
  files.push_back(CheckpointFile::from_bytes(kConfigFile, config_yaml));
  for (CheckpointFile& file : task_files) files.push_back(std::move(file));
  return files;
}

std::filesystem::path checkpoint_train_weights(const Checkpoint& checkpoint) {
  return checkpoint.file(checkpoint.has(kTrainWeightsFile) ? kTrainWeightsFile : kWeightsFile);
}

PretrainConfig checkpoint_config(const Checkpoint& checkpoint) {
  const std::filesystem::path path = checkpoint.file(kConfigFile);
  return load_from(path, [&] {
    return parse_config<PretrainConfig>(upgrade_pretrain_config_yaml(read_file(path)), path.string(), {"tokenizer.model="});
  });
}

Tokenizer checkpoint_tokenizer(const Checkpoint& checkpoint) {
  const std::filesystem::path path = checkpoint.file(kTokenizerFile);
  return load_from(path, [&] { return Tokenizer::load(path.string()); });
}

void load_checkpoint_weights(const Checkpoint& checkpoint, GPT& model) {
  const std::filesystem::path path = checkpoint.file(kWeightsFile);
  load_from(path, [&] { load_parameters(path.string(), model.named_parameters(), /*strict=*/true); });
}

void load_checkpoint_optimizer(const Checkpoint& checkpoint, Optimizer& optimizer) {
  const std::filesystem::path path = checkpoint.file(kOptimizerFile);
  load_from(path, [&] { load_optimizer_state(path.string(), optimizer); });
}

TrainedModel load_trained_model(const Checkpoint& checkpoint) {
  PretrainConfig config = checkpoint_config(checkpoint);
  Tokenizer tokenizer = checkpoint_tokenizer(checkpoint);
  require_memory_fits(estimate_memory(config.model, generation_memory_plan(config.model, tokenizer.vocab_size())),
                      config.train.memory_check, checkpoint.dir.string(), kLoadingMemoryHint);
  auto model = std::make_unique<GPT>(gpt_config(config.model, tokenizer.vocab_size(), uint64_t(config.seed)));
  load_checkpoint_weights(checkpoint, *model);
  return TrainedModel{checkpoint, std::move(config), std::move(tokenizer), std::move(model)};
}

}  // namespace tapelm
