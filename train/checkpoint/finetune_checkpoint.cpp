// Reading fine-tuning checkpoints; init_from resolution.
#include <tapelm/train/checkpoint/finetune_checkpoint.h>

#include <yaml-cpp/yaml.h>

#include <tapelm/nn/safetensors.h>
#include <tapelm/data/atomic_file.h>
#include <tapelm/train/config/memory_budget.h>
#include <tapelm/train/checkpoint/trainer_state.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace fs = std::filesystem;
namespace {

template <class S, class Field>
std::string field_text(const Field& field, const S& section) {
  YAML::Emitter out;
  field.emit(out, section);
  return out.c_str();
}

}  // namespace

bool is_finetune_checkpoint(const Checkpoint& checkpoint) {
  if (checkpoint.has(kFinetuneStateFileV1)) return true;
  if (!checkpoint.has(kConfigFile)) return false;
  const fs::path path = checkpoint.file(kConfigFile);
  return load_from(path, [&] {
    const YAML::Node root = YAML::LoadFile(path.string());
    return root.IsMap() && bool(root["task"]);
  });
}

FinetuneConfig finetune_checkpoint_config(const Checkpoint& checkpoint) {
  const fs::path path = checkpoint.file(kConfigFile);
  // The checkpoint's own files replace whatever tokenizer the run was given.
  return load_from(path, [&] {
    return load_config<FinetuneConfig>(path.string(), {"tokenizer.model=", "target_tokenizer.model="});
  });
}

void load_task_weights(const Checkpoint& checkpoint, FinetuneTask& task) {
  const fs::path path = checkpoint.file(kWeightsFile);
  load_from(path, [&] { load_parameters(path.string(), task.model().named_parameters(), /*strict=*/true); });
}

FinetunedModel load_finetuned_model(const Checkpoint& checkpoint, std::ostream& log,
                                    const std::function<void(FinetuneConfig&)>& adjust_config) {
  if (!is_finetune_checkpoint(checkpoint)) {
    throw CheckpointError(checkpoint.dir.string() + ": not a fine-tuning checkpoint (its config.yaml has no task key); predict and eval --data need one written by `tapelm finetune`");
  }
  FinetunedModel result{checkpoint, finetune_checkpoint_config(checkpoint), nullptr};
  if (adjust_config) adjust_config(result.config);
  require_memory_fits(estimate_memory(result.config.model, finetune_inference_memory_plan(result.config)),
                      result.config.train.memory_check, checkpoint.dir.string(), kLoadingMemoryHint);
  TaskSetup setup;
  setup.config = &result.config;
  setup.restore_from = &result.checkpoint;
  setup.log = &log;
  result.task = make_finetune_task(setup);
  load_task_weights(checkpoint, *result.task);
  return result;
}

std::optional<Checkpoint> resolve_init_from(FinetuneConfig& config, std::vector<std::string>* warnings) {
  if (config.init_from.empty()) return std::nullopt;
  Checkpoint checkpoint;
  try {
    checkpoint = locate_checkpoint(config.init_from, warnings);
  } catch (const CheckpointError& e) {
    throw CheckpointError(std::string("init_from: ") + e.what());
  }
  if (is_finetune_checkpoint(checkpoint)) {
    throw ConfigError("init_from: " + checkpoint.dir.string() +
                      " is a fine-tuning checkpoint; give a pretraining checkpoint (to continue this fine-tuning run, "
                      "use --resume)");
  }
  const ModelSection pretrained = checkpoint_config(checkpoint).model;
  std::string conflicts;
  const SectionSchema<ModelSection> schema = model_section_schema();
  for (const auto& field : schema.fields()) {
    if (field.key == "dropout") continue;  // a fine-tuning choice, not architecture
    const std::string key = "model." + field.key;
    const auto given = config.given_keys.find(key);
    if (given == config.given_keys.end()) continue;  // not set: the checkpoint's value is taken
    const std::string value = field_text(field, config.model);
    const std::string theirs = field_text(field, pretrained);
    if (value != theirs) {
      conflicts += (conflicts.empty() ? "" : "; ") + given->second + ": " + key + " is " + value +
                   " but the checkpoint's is " + theirs;
    }
  }
  if (!conflicts.empty()) {
    throw ConfigError("init_from: " + checkpoint.dir.string() + ": " + conflicts +
                      " (the architecture comes from init_from; remove these model keys or make them agree)");
  }
  const double dropout = config.model.dropout;
  config.model = pretrained;
  config.model.dropout = dropout;
  return checkpoint;
}

}  // namespace tapelm
