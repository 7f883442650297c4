// run_task and resume_task, how a task defined outside the library trains: a new run refuses an
// out_dir that holds an earlier run's checkpoints, and a resumed run, on a task built afresh as
// after a restart, continues from the checkpoint to the weights of a run that never stopped.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/config/errors.h>
#include <tapelm/train/loop/run_task.h>

#include "scratch_dir.h"
#include "expect_error.h"
#include "tests/train/drift_task.h"

namespace tapelm {
namespace {

using testing::drift_config;
using testing::DriftTask;
using testing::logging_to;
using testing::ScratchDir;

LoopConfig first_steps(const std::filesystem::path& out_dir, int64_t steps) {
  LoopConfig config = drift_config(out_dir, 0);
  config.train.max_steps = steps;
  return config;
}

TEST(RunTask, AResumedRunEndsWithTheWeightsOfARunThatNeverStopped) {
  ScratchDir scratch;
  std::ostringstream log;
  DriftTask whole;
  const TrainResult straight = run_task(whole, drift_config(scratch / "whole", 0), logging_to(log));
  DriftTask first;
  run_task(first, first_steps(scratch / "parts", 4), logging_to(log));
  DriftTask rest;  // starts from its initial weights until the checkpoint replaces them
  const TrainResult resumed = resume_task(rest, drift_config(scratch / "parts", 0), scratch / "parts", logging_to(log));

  EXPECT_EQ(resumed.step, 12);
  ASSERT_EQ(whole.weights_seen.size(), 12u);
  ASSERT_EQ(rest.weights_seen.size(), 8u);  // steps 5–12 only
  for (std::size_t i = 0; i < rest.weights_seen.size(); ++i) {
    EXPECT_EQ(rest.weights_seen[i], whole.weights_seen[i + 4]) << "step " << i + 5;
  }
  ASSERT_TRUE(straight.evaluation && resumed.evaluation);
  EXPECT_EQ(resumed.evaluation->metric("w0"), straight.evaluation->metric("w0"));
  EXPECT_EQ(resumed.evaluation->metric("w1"), straight.evaluation->metric("w1"));
}

TEST(RunTask, ANewRunRefusesAnOutDirHoldingCheckpointsAndNamesResumeTask) {
  ScratchDir scratch;
  std::ostringstream log;
  DriftTask first, second;
  run_task(first, first_steps(scratch / "run", 4), logging_to(log));
  testing::expect_error<InputError>([&] { run_task(second, first_steps(scratch / "run", 8), logging_to(log)); },
                                    {(scratch / "run").string(), "already holds checkpoints from an earlier run",
                                     "continue it with resume_task"});
  EXPECT_TRUE(second.weights_seen.empty());
}

TEST(RunTask, ResumingFromARunWithoutCheckpointsIsRefused) {
  ScratchDir scratch;
  std::ostringstream log;
  DriftTask task;
  std::filesystem::create_directories(scratch / "empty");
  testing::expect_error<CheckpointError>(
      [&] { resume_task(task, first_steps(scratch / "empty", 4), scratch / "empty", logging_to(log)); },
      {(scratch / "empty").string()});
  EXPECT_TRUE(task.weights_seen.empty());
}

}  // namespace
}  // namespace tapelm
