// trainer_state.json reading and writing.
#include "train/trainer_state.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace tapelm {
namespace {

constexpr const char* kFormat = "tapelm-trainer-state";
constexpr int kVersion = 1;

nlohmann::ordered_json rng_json(const RngState& rng) { return {{"seed", rng.seed}, {"counter", rng.counter}}; }

RngState rng_from(const nlohmann::json& j) { return {j.at("seed").get<uint64_t>(), j.at("counter").get<uint64_t>()}; }

}  // namespace

std::string to_json(const TrainerState& s) {
  nlohmann::ordered_json j = {
      {"format", kFormat},
      {"version", kVersion},
      {"step", s.step},
      {"tokens_seen", s.tokens_seen},
      {"sampler", rng_json(s.sampler)},
      {"best_val_loss", s.best_val_loss ? nlohmann::ordered_json(*s.best_val_loss) : nlohmann::ordered_json(nullptr)},
      {"skipped_steps", s.skipped_steps},
      {"bad_steps_in_a_row", s.bad_steps_in_a_row},
      {"world_size", s.world_size}};
  return j.dump(2) + "\n";
}

TrainerState parse_trainer_state(const std::string& json, const std::string& origin) {
  try {
    const nlohmann::json j = nlohmann::json::parse(json);
    if (j.value("format", "") != kFormat || j.value("version", 0) != kVersion) {
      throw std::invalid_argument(origin + ": not a version " + std::to_string(kVersion) + " " + kFormat + " file");
    }
    TrainerState s;
    s.step = j.at("step").get<int64_t>();
    s.tokens_seen = j.at("tokens_seen").get<int64_t>();
    s.sampler = rng_from(j.at("sampler"));
    if (!j.at("best_val_loss").is_null()) s.best_val_loss = j.at("best_val_loss").get<double>();
    s.skipped_steps = j.at("skipped_steps").get<int64_t>();
    s.bad_steps_in_a_row = j.at("bad_steps_in_a_row").get<int64_t>();
    s.world_size = j.at("world_size").get<int64_t>();
    if (s.step < 0) throw std::invalid_argument(origin + ": step is negative (" + std::to_string(s.step) + ")");
    if (s.world_size < 1) {
      throw std::invalid_argument(origin + ": world_size must be >= 1, got " + std::to_string(s.world_size));
    }
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(origin + ": malformed trainer state (" + e.what() + ")");
  }
}

}  // namespace tapelm
