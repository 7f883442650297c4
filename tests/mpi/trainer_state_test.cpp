// trainer_state.json for data-parallel runs: every rank's dropout stream round-trips, and a
// file whose per-rank states do not match its world_size is refused naming the file.
#include "train/trainer_state.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace tapelm {
namespace {

TrainerState two_rank_state() {
  TrainerState state;
  state.step = 40;
  state.world_size = 2;
  state.dropout = {7, 1200};
  state.dropout_per_rank = {{7, 1200}, {0xFEDCBA9876543210ull, 1180}};
  return state;
}

std::string error_of(const std::string& json) {
  try {
    parse_trainer_state(json, "run/trainer_state.json");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(TrainerStateFile, EveryRanksDropoutStreamRoundTrips) {
  const TrainerState back = parse_trainer_state(to_json(two_rank_state()), "x");
  EXPECT_EQ(back.world_size, 2);
  ASSERT_EQ(back.dropout_per_rank.size(), 2u);
  EXPECT_EQ(back.dropout_per_rank[1].seed, 0xFEDCBA9876543210ull);
  EXPECT_EQ(back.dropout_per_rank[1].counter, 1180u);
  EXPECT_EQ(back.dropout.counter, 1200u);
}

TEST(TrainerStateFile, ASingleProcessStateHasNoPerRankList) {
  TrainerState single;
  single.dropout = {3, 9};
  const std::string json = to_json(single);
  EXPECT_EQ(json.find("dropout_rng_per_rank"), std::string::npos);
  EXPECT_TRUE(parse_trainer_state(json, "x").dropout_per_rank.empty());
}

TEST(TrainerStateFile, PerRankStatesNotMatchingWorldSizeAreRefused) {
  TrainerState missing = two_rank_state();
  missing.dropout_per_rank.pop_back();
  const std::string message = error_of(to_json(missing));
  EXPECT_NE(message.find("run/trainer_state.json: dropout_rng_per_rank has 1 entries; expected 2 for world_size 2"),
            std::string::npos)
      << message;

  TrainerState zero = two_rank_state();
  zero.world_size = 0;
  zero.dropout_per_rank.clear();
  EXPECT_NE(error_of(to_json(zero)).find("world_size must be >= 1, got 0"), std::string::npos);
}

}  // namespace
}  // namespace tapelm
