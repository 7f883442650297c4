// trainer_state.json for data-parallel runs: no per-rank state (dropout masks are a function
// of the step and the global example index), older files' dropout streams are ignored, and a
// world_size below 1 is refused naming the file.
#include <tapelm/train/checkpoint/trainer_state.h>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace tapelm {
namespace {

std::string error_of(const std::string& json) {
  try {
    parse_trainer_state(json, "run/trainer_state.json");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(TrainerStateFile, ATwoRankStateHoldsNoDropoutStreams) {
  TrainerState state;
  state.step = 40;
  state.world_size = 2;
  const std::string json = to_json(state);
  EXPECT_EQ(json.find("dropout"), std::string::npos) << json;
  EXPECT_EQ(parse_trainer_state(json, "x").world_size, 2);
}

TEST(TrainerStateFile, DropoutStreamsOfOlderCheckpointsAreIgnored) {
  const std::string older = R"({"format": "tapelm-trainer-state", "version": 1, "step": 40, "tokens_seen": 5120,
    "sampler": {"seed": 5, "counter": 160}, "dropout_rng": {"seed": 7, "counter": 1200},
    "best_val_loss": null, "skipped_steps": 0, "bad_steps_in_a_row": 0, "world_size": 2,
    "dropout_rng_per_rank": [{"seed": 7, "counter": 1200}, {"seed": 9, "counter": 1180}]})";
  const TrainerState back = parse_trainer_state(older, "x");
  EXPECT_EQ(back.step, 40);
  EXPECT_EQ(back.sampler.at("counter").get<uint64_t>(), 160u);
  EXPECT_EQ(back.world_size, 2);
}

TEST(TrainerStateFile, WorldSizeBelowOneIsRefused) {
  TrainerState zero;
  zero.world_size = 0;
  EXPECT_NE(error_of(to_json(zero)).find("run/trainer_state.json: world_size must be >= 1, got 0"), std::string::npos);
}

}  // namespace
}  // namespace tapelm
