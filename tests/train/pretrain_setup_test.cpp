// The data a pretraining run prepares: what the shard cache reports reaches the run log.
#include "train/pretrain_setup.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "tiny_run.h"

namespace tapelm {
namespace {

using testing::ScratchDir;

TEST(PretrainSetup, CacheWarningsAreWrittenToTheRunLog) {
  const ScratchDir scratch;
  const PretrainConfig config = load_pretrain_config(testing::write_tiny_run(scratch).config.string());
  std::ostringstream first_log;
  const PreparedData first = prepare_pretrain_data(config, "", first_log);
  EXPECT_EQ(first_log.str().find("warning"), std::string::npos) << first_log.str();
  std::filesystem::remove(first.shards.folder + "/manifest.json");
  testing::write_text(first.shards.folder + "/manifest.json", "{");

  std::ostringstream second_log;
  const PreparedData second = prepare_pretrain_data(config, "", second_log);
  EXPECT_TRUE(second.shards.built);
  EXPECT_NE(second_log.str().find("warning: data: cache entry '" + first.shards.folder + "' is unusable"),
            std::string::npos)
      << second_log.str();
}

}  // namespace
}  // namespace tapelm
