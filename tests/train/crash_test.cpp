// Crash safety of `tapelm pretrain`, killed with SIGKILL at chosen moments of writing,
// replacing and pruning checkpoints (data/crash_point.h): the next start leaves no temporary
// anywhere in out_dir, no checkpoint with files missing is ever listed, and the resumed run
// matches an uninterrupted one.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <string>
#include <vector>

#include <tapelm/data/atomic_file.h>
#include "crash_testing.h"
#include "tests/train/tiny_run.h"
#include <tapelm/train/checkpoint/checkpoint.h>

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::run_pretraining;
using testing::ScratchDir;
using testing::start_pretrain;
using testing::train_records;
using testing::wait_exit_status;
using testing::write_tiny_run;

constexpr int64_t kSteps = 6;

// A checkpoint every step, two kept (so every step from the third prunes one), a plot every
// second step.
std::vector<std::string> crash_prone_settings() {
  return {"train.max_steps=" + std::to_string(kSteps), "checkpoint.interval=1", "checkpoint.keep_last=2",
          "eval.interval=2", "sample.max_new_tokens=0"};
}

std::vector<std::string> cli_args(const fs::path& config, const std::vector<std::string>& settings) {
  std::vector<std::string> args = {config.string()};
  for (const std::string& setting : settings) args.insert(args.end(), {"--set", setting});
  return args;
}


TEST(CrashSafety, AKilledRunLeavesNoTemporaryNorHalfDeletedCheckpointAndResumesExactly) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, kSteps);
  const fs::path whole = scratch / "whole";
  std::vector<std::string> settings = crash_prone_settings();
  settings.push_back("out_dir=" + whole.string());
  run_pretraining(run.config, settings);
  const auto expected = train_records(whole);
  ASSERT_EQ(expected.size(), size_t(kSteps));

  // <point>:<n> kills at the n-th visit: a checkpoint complete in its temporary folder; an
  // atomic write before its rename (with the cache built, the 14th is loss.svg in out_dir); a
  // pruned checkpoint renamed away and with part of its files deleted (checkpoint_test.cpp
  // kills at the other moments).
  for (const std::string crash : {"checkpoint.renaming:4", "atomic_file.renaming:14", "checkpoint.deleting:3"}) {
    SCOPED_TRACE(crash);
    const fs::path out_dir = scratch / "killed";
    fs::remove_all(out_dir);
    std::vector<std::string> killed_settings = crash_prone_settings();
    killed_settings.push_back("out_dir=" + out_dir.string());
    const std::vector<std::string> args = cli_args(run.config, killed_settings);
    ASSERT_EQ(wait_exit_status(start_pretrain(scratch.path(), args, crash)), 1000 + SIGKILL)
        << read_text(scratch / "stderr.txt");
    EXPECT_FALSE(testing::temporaries_under(out_dir).empty()) << "the kill came before anything was left behind";
    ASSERT_FALSE(list_checkpoint_dirs(out_dir).empty());
    for (const CheckpointDir& dir : list_checkpoint_dirs(out_dir)) EXPECT_NO_THROW(verify_checkpoint(dir.dir));

    std::vector<std::string> resume = args;
    resume.push_back("--resume");
    ASSERT_EQ(wait_exit_status(start_pretrain(scratch.path(), resume)), 0) << read_text(scratch / "stderr.txt");
    EXPECT_EQ(testing::temporaries_under(out_dir), std::vector<std::string>{});
    for (const CheckpointDir& dir : list_checkpoint_dirs(out_dir)) EXPECT_NO_THROW(verify_checkpoint(dir.dir));
    EXPECT_EQ(train_records(out_dir), expected);
  }
}

}  // namespace
}  // namespace tapelm
