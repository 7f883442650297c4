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

// The drifting-vector run, 12 steps under AdamW on a cosine schedule with warm-up, so that a
// resume that lost the optimizer's moments or the schedule's position would take other steps.
LoopConfig adam_drift(const std::filesystem::path& out_dir) {
  LoopConfig config = drift_config(out_dir, 0);
  config.optimizer.name = "adamw";
  config.optimizer.lr = 0.05;
  config.scheduler.name = "cosine";
  config.scheduler.warmup_steps = 3;
  return config;
}

TEST(RunTask, AResumedRunEndsWithTheWeightsOfARunThatNeverStopped) {
  ScratchDir scratch;
  std::ostringstream log;
  DriftTask whole;
  const TrainResult straight = run_task(whole, adam_drift(scratch / "whole"), logging_to(log));
  DriftTask first;
  TrainerOptions stop_after_4 = logging_to(log);
  stop_after_4.stop_requested = [&] { return first.weights_seen.size() == 4; };  // as on SIGTERM
  ASSERT_TRUE(run_task(first, adam_drift(scratch / "parts"), stop_after_4).stopped);
  DriftTask rest;  // starts from its initial weights until the checkpoint replaces them
  const TrainResult resumed = resume_task(rest, adam_drift(scratch / "parts"), scratch / "parts", logging_to(log));

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
  run_task(first, adam_drift(scratch / "run"), logging_to(log));
  const std::string metrics = testing::read_text(scratch / "run" / "metrics.jsonl");
  testing::expect_error<InputError>([&] { run_task(second, adam_drift(scratch / "run"), logging_to(log)); },
                                    {(scratch / "run").string(), "already holds checkpoints from an earlier run",
                                     "continue it with resume_task"});
  EXPECT_TRUE(second.weights_seen.empty());
  EXPECT_EQ(testing::read_text(scratch / "run" / "metrics.jsonl"), metrics);
}

TEST(RunTask, ResumingFromARunWithoutCheckpointsIsRefused) {
  ScratchDir scratch;
  std::ostringstream log;
  DriftTask task;
  std::filesystem::create_directories(scratch / "empty");
  testing::expect_error<CheckpointError>(
      [&] { resume_task(task, adam_drift(scratch / "empty"), scratch / "empty", logging_to(log)); },
      {(scratch / "empty").string()});
  EXPECT_TRUE(task.weights_seen.empty());
}

}  // namespace
}  // namespace tapelm
