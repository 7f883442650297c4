// trainer_state.json reading and writing, and reading the version-1 files.
#include <tapelm/train/checkpoint/trainer_state.h>

#include <stdexcept>

#include <tapelm/data/atomic_file.h>
#include <tapelm/train/config/errors.h>

namespace tapelm {
namespace {

constexpr const char* kFormat = "tapelm-trainer-state";
constexpr int kVersion = 2;
constexpr const char* kFinetuneFormatV1 = "tapelm-finetune-state";

nlohmann::ordered_json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

std::optional<double> optional_from(const nlohmann::json& j) {
  return j.is_null() ? std::nullopt : std::optional<double>(j.get<double>());
}

void read_counters(const nlohmann::json& j, TrainerState& s) {
  s.step = j.at("step").get<int64_t>();
  s.skipped_steps = j.at("skipped_steps").get<int64_t>();
  s.bad_steps_in_a_row = j.at("bad_steps_in_a_row").get<int64_t>();
}

// Version 1 of pretraining: tokens, a {seed, counter} sampler, the best validation loss.
TrainerState from_pretrain_v1(const nlohmann::json& j, int64_t per_example) {
  TrainerState s;
  read_counters(j, s);
  s.examples_seen = j.at("tokens_seen").get<int64_t>() / std::max<int64_t>(per_example, 1);
  s.sampler = j.at("sampler");
  s.best_metric = optional_from(j.at("best_val_loss"));
  s.world_size = j.at("world_size").get<int64_t>();
  return s;
}

// Version 2, and version 1 of fine-tuning (its own file, which had no world_size).
TrainerState from_examples_and_early_stopping(const nlohmann::json& j) {
  TrainerState s;
  read_counters(j, s);
  s.examples_seen = j.at("examples_seen").get<int64_t>();
  s.sampler = j.at("sampler");
  s.best_metric = optional_from(j.at("best_metric"));
  s.best_step = j.at("best_step").get<int64_t>();
  s.evals_without_improvement = j.at("evals_without_improvement").get<int64_t>();
  s.early_stopped = j.at("early_stopped").get<bool>();
  return s;
}

}  // namespace

std::string to_json(const TrainerState& s) {
  const nlohmann::ordered_json j = {{"format", kFormat},
                                    {"version", kVersion},
                                    {"step", s.step},
                                    {"examples_seen", s.examples_seen},
                                    {"sampler", s.sampler},
                                    {"best_metric", optional_json(s.best_metric)},
                                    {"best_step", s.best_step},
                                    {"evals_without_improvement", s.evals_without_improvement},
                                    {"early_stopped", s.early_stopped},
                                    {"skipped_steps", s.skipped_steps},
                                    {"bad_steps_in_a_row", s.bad_steps_in_a_row},
                                    {"world_size", s.world_size}};
  return j.dump(2) + "\n";
}

TrainerState parse_trainer_state(const std::string& json, const std::string& origin, int64_t per_example) {
  try {
    const nlohmann::json j = nlohmann::json::parse(json);
    const std::string format = j.value("format", "");
    const int version = j.value("version", 0);
    TrainerState s;
    if (format == kFormat && version == kVersion) {
      s = from_examples_and_early_stopping(j);
      s.world_size = j.at("world_size").get<int64_t>();
    } else if (format == kFormat && version == 1) {
      s = from_pretrain_v1(j, per_example);
    } else if (format == kFinetuneFormatV1 && version == 1) {
      s = from_examples_and_early_stopping(j);
    } else {
      throw std::invalid_argument(origin + ": format '" + format + "' version " + std::to_string(version) +
                                  "; this tapelm reads " + kFormat + " versions 1 and " + std::to_string(kVersion) +
                                  " (a newer tapelm wrote it?)");
    }
    if (s.step < 0) throw std::invalid_argument(origin + ": step is negative (" + std::to_string(s.step) + ")");
    if (s.world_size < 1) {
      throw std::invalid_argument(origin + ": world_size must be >= 1, got " + std::to_string(s.world_size));
    }
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(origin + ": malformed trainer state (" + e.what() + ")");
  }
}

TrainerState checkpoint_trainer_state(const Checkpoint& checkpoint, int64_t per_example) {
  const char* name = checkpoint.has(kTrainerStateFile) || !checkpoint.has(kFinetuneStateFileV1)
                         ? kTrainerStateFile
                         : kFinetuneStateFileV1;
  const std::filesystem::path path = checkpoint.file(name);
  return load_from(path, [&] { return parse_trainer_state(read_file(path), path.string(), per_example); });
}

}  // namespace tapelm
