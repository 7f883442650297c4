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
      {"dropout_rng", rng_json(s.dropout)},
      {"best_val_loss", s.best_val_loss ? nlohmann::ordered_json(*s.best_val_loss) : nlohmann::ordered_json(nullptr)},
      {"skipped_steps", s.skipped_steps},
      {"bad_steps_in_a_row", s.bad_steps_in_a_row},
      {"world_size", s.world_size}};
  if (!s.dropout_per_rank.empty()) {
    nlohmann::ordered_json per_rank = nlohmann::ordered_json::array();
    for (const RngState& rng : s.dropout_per_rank) per_rank.push_back(rng_json(rng));
    j["dropout_rng_per_rank"] = std::move(per_rank);
  }
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
    s.dropout = rng_from(j.at("dropout_rng"));
    if (!j.at("best_val_loss").is_null()) s.best_val_loss = j.at("best_val_loss").get<double>();
    s.skipped_steps = j.at("skipped_steps").get<int64_t>();
    s.bad_steps_in_a_row = j.at("bad_steps_in_a_row").get<int64_t>();
    s.world_size = j.at("world_size").get<int64_t>();
    if (s.step < 0) throw std::invalid_argument(origin + ": step is negative (" + std::to_string(s.step) + ")");
    if (s.world_size < 1) {
      throw std::invalid_argument(origin + ": world_size must be >= 1, got " + std::to_string(s.world_size));
    }
    if (j.contains("dropout_rng_per_rank")) {
      for (const nlohmann::json& rng : j.at("dropout_rng_per_rank")) s.dropout_per_rank.push_back(rng_from(rng));
    }
    const size_t expected = s.world_size > 1 ? size_t(s.world_size) : 0;
    if (s.dropout_per_rank.size() != expected) {
      throw std::invalid_argument(origin + ": dropout_rng_per_rank has " + std::to_string(s.dropout_per_rank.size()) +
                                  " entries; expected " + std::to_string(expected) + " for world_size " +
                                  std::to_string(s.world_size));
    }
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(origin + ": malformed trainer state (" + e.what() + ")");
  }
}

}  // namespace tapelm
