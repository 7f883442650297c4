// run_task and resume_task on two ranks: rank 0 picks the checkpoint and the others open its
// choice, so a resumed run continues as one that never stopped; a refusal on rank 0 (its
// out_dir, its checkpoint) reaches every rank instead of leaving them waiting for it.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include <tapelm/train/config/errors.h>
#include <tapelm/train/loop/run_task.h>

#include "scratch_dir.h"
#include "expect_error.h"
#include "tests/train/drift_task.h"
#include "world.h"

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using testing::DriftTask;
using testing::world;

// Rank 0's scratch directory, the same path on every rank.
fs::path shared_dir(const testing::ScratchDir& own) {
  std::string path = own.path().string();
  world().broadcast(path);
  return path;
}

// The drifting-vector run of `steps` steps with one example per rank per step.
LoopConfig on_every_rank(const fs::path& out_dir, int64_t steps) {
  LoopConfig config = testing::drift_config(out_dir, 0);
  config.train.max_steps = steps;
  config.train.batch_size = world().world_size();
  return config;
}

TrainerOptions ranks_logging_to(std::ostream& log) {
  TrainerOptions options = testing::logging_to(log);
  options.distributed = &world();
  return options;
}

TEST(RunTaskOnRanks, AResumedRunEndsWithTheWeightsOfARunThatNeverStopped) {
  const testing::ScratchDir own;
  const fs::path dir = shared_dir(own);
  std::ostringstream log;
  DriftTask whole, first, rest;
  run_task(whole, on_every_rank(dir / "whole", 12), ranks_logging_to(log));
  run_task(first, on_every_rank(dir / "parts", 4), ranks_logging_to(log));
  const TrainResult resumed = resume_task(rest, on_every_rank(dir / "parts", 12), dir / "parts", ranks_logging_to(log));
  EXPECT_EQ(resumed.step, 12);
  ASSERT_EQ(rest.weights_seen.size(), 8u);
  for (std::size_t i = 0; i < rest.weights_seen.size(); ++i) {
    EXPECT_EQ(rest.weights_seen[i], whole.weights_seen[i + 4]) << "step " << i + 5 << ", rank " << world().rank();
  }
  world().barrier();  // rank 0 removes the directory
}

TEST(RunTaskOnRanks, RankZerosRefusalOfAnOutDirWithCheckpointsReachesEveryRank) {
  const testing::ScratchDir own;
  const fs::path dir = shared_dir(own);
  std::ostringstream log;
  if (world().is_root()) {
    DriftTask earlier;
    run_task(earlier, testing::drift_config(dir / "run", 0), testing::logging_to(log));  // rank 0 alone
  }
  world().barrier();
  DriftTask task;
  testing::expect_error<InputError>([&] { run_task(task, on_every_rank(dir / "run", 4), ranks_logging_to(log)); },
                                    {"already holds checkpoints from an earlier run"});
  EXPECT_TRUE(task.weights_seen.empty());
  world().barrier();
}

TEST(RunTaskOnRanks, ResumingWithoutACheckpointIsRefusedOnEveryRank) {
  const testing::ScratchDir own;
  const fs::path dir = shared_dir(own);
  std::ostringstream log;
  fs::create_directories(dir / "empty");
  DriftTask task;
  testing::expect_error<InputError>(
      [&] { resume_task(task, on_every_rank(dir / "empty", 4), dir / "empty", ranks_logging_to(log)); },
      {(dir / "empty").string()});
  world().barrier();
}

}  // namespace
}  // namespace tapelm
