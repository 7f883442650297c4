// finetune_state.json reading and writing.
#include "train/finetune_state.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace tapelm {

std::string to_json(const FinetuneState& s) {
  nlohmann::ordered_json j;
  j["format"] = "tapelm-finetune-state";
  j["version"] = 1;
  j["step"] = s.step;
  j["examples_seen"] = s.examples_seen;
  j["sampler"] = {{"seed", s.sampler.seed}, {"epoch", s.sampler.epoch}, {"position", s.sampler.position}};
  j["best_metric"] = s.best_metric ? nlohmann::ordered_json(*s.best_metric) : nlohmann::ordered_json(nullptr);
  j["best_step"] = s.best_step;
  j["evals_without_improvement"] = s.evals_without_improvement;
  j["skipped_steps"] = s.skipped_steps;
  j["bad_steps_in_a_row"] = s.bad_steps_in_a_row;
  j["early_stopped"] = s.early_stopped;
  return j.dump(2) + "\n";
}

FinetuneState parse_finetune_state(const std::string& json, const std::string& origin) {
  try {
    const nlohmann::json j = nlohmann::json::parse(json);
    if (j.at("format").get<std::string>() != "tapelm-finetune-state" || j.at("version").get<int>() != 1) {
      throw std::invalid_argument("not a version-1 tapelm fine-tuning state");
    }
    FinetuneState s;
    s.step = j.at("step").get<int64_t>();
    s.examples_seen = j.at("examples_seen").get<int64_t>();
    s.sampler = {j.at("sampler").at("seed").get<uint64_t>(), j.at("sampler").at("epoch").get<int64_t>(),
                 j.at("sampler").at("position").get<int64_t>()};
    if (!j.at("best_metric").is_null()) s.best_metric = j.at("best_metric").get<double>();
    s.best_step = j.at("best_step").get<int64_t>();
    s.evals_without_improvement = j.at("evals_without_improvement").get<int64_t>();
    s.skipped_steps = j.at("skipped_steps").get<int64_t>();
    s.bad_steps_in_a_row = j.at("bad_steps_in_a_row").get<int64_t>();
    s.early_stopped = j.at("early_stopped").get<bool>();
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(origin + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(origin + ": " + e.what());
  }
}

}  // namespace tapelm
