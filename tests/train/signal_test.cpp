// Tests for interrupting `tapelm pretrain` with signals, run as a child process of the built
// binary: SIGTERM mid-run checkpoints and exits 0 with the resume command, and the resumed
// run matches an uninterrupted one; a second signal ends the process at once.
#include <gtest/gtest.h>
#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/train/tiny_run.h"
#include <tapelm/train/loop/signals.h>

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using testing::checkpoint_path;

// Steps of the interrupted run: enough that it is still training when the signal arrives (a
// step of the tiny model takes milliseconds), few enough to keep the test fast. Sanitized
// builds run several times slower, which widens the margin by itself.
#if defined(__SANITIZE_ADDRESS__)
constexpr int64_t kSteps = 40;
#else
constexpr int64_t kSteps = 100;
#endif
using testing::read_text;
using testing::run_pretraining;
using testing::same_bytes;
using testing::ScratchDir;
using testing::start_pretrain;
using testing::train_records;
using testing::wait_exit_status;
using testing::write_text;
using testing::write_tiny_run;

// Waits until metrics.jsonl holds `lines` records (the run is inside its training loop).
bool wait_for_records(const fs::path& out_dir, size_t lines, pid_t child) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = read_text(out_dir / "metrics.jsonl");
    if (static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) >= lines) return true;
    if (::waitpid(child, nullptr, WNOHANG) == child) return false;  // exited early
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

TEST(Signals, SigtermCheckpointsExitsZeroAndTheResumedRunMatchesAnUninterruptedOne) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, kSteps);
  const std::vector<std::string> quiet = {"--set", "eval.interval=0", "--set", "checkpoint.interval=0"};
  std::vector<std::string> args = {run.config.string()};
  args.insert(args.end(), quiet.begin(), quiet.end());

  const pid_t child = start_pretrain(scratch.path(), args);
  ASSERT_TRUE(wait_for_records(run.out_dir, 3, child)) << read_text(scratch / "stderr.txt");
  ::kill(child, SIGTERM);
  ASSERT_EQ(wait_exit_status(child), 0) << read_text(scratch / "stderr.txt");

  const std::vector<CheckpointDir> written = list_checkpoint_dirs(run.out_dir);
  ASSERT_EQ(written.size(), 1u);
  const int64_t stopped_at = written[0].step;
  ASSERT_GE(stopped_at, 3);
  ASSERT_LT(stopped_at, kSteps) << "the run ended before SIGTERM arrived";
  const std::string out = read_text(scratch / "stdout.txt");
  EXPECT_NE(out.find("stopped by SIGTERM after step " + std::to_string(stopped_at) + "; checkpoint written to " +
                     checkpoint_path(run.out_dir, stopped_at).string()),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("resume with: tapelm pretrain " + run.config.string() +
                     " --set eval.interval=0 --set checkpoint.interval=0 --resume"),
            std::string::npos)
      << out;

  args.push_back("--resume");
  const pid_t resumed = start_pretrain(scratch.path(), args);
  ASSERT_EQ(wait_exit_status(resumed), 0) << read_text(scratch / "stderr.txt");

  const fs::path whole = scratch / "whole";
  run_pretraining(run.config, {"eval.interval=0", "checkpoint.interval=0", "out_dir=" + whole.string()});
  const auto expected = train_records(whole);
  ASSERT_EQ(expected.size(), size_t(kSteps));
  EXPECT_EQ(train_records(run.out_dir), expected);
  EXPECT_TRUE(same_bytes(checkpoint_path(run.out_dir, kSteps) / "weights.safetensors",
                         checkpoint_path(whole, kSteps) / "weights.safetensors"));
}

// oneDNN 2.x's JIT GEMM kernels point the stack pointer into the heap while they run, so a
// signal handler that ran on a computing thread corrupted the heap (a SIGTERM to `tapelm
// pretrain` ended about one run in ten with "corrupted size vs. prev_size"). The stop signals
// therefore reach only the watcher thread: every thread started after the routing blocks them,
// and the first one, once training has started, is recorded. The check runs in a process of
// its own (gtest re-executes the binary for it alone): OpenMP keeps its threads, so in a process
// where earlier tests had started them they would predate the routing.
[[noreturn]] void check_routing_and_exit() {
  route_stop_signals_to_watcher();
  std::vector<int> blocking(2, 0);
#pragma omp parallel num_threads(2)
  {
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, nullptr, &mask);
    blocking[size_t(omp_get_thread_num())] =
        sigismember(&mask, SIGINT) && sigismember(&mask, SIGTERM) && sigismember(&mask, SIGUSR1);
  }
  const StopSignals signals;
  StopSignals::defer();
  ::kill(::getpid(), SIGUSR1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (StopSignals::received() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::fprintf(stderr, "threads blocking the stop signals: %d %d; signal recorded: %d\n", blocking[0], blocking[1],
               StopSignals::received());
  std::_Exit(blocking == std::vector<int>({1, 1}) && StopSignals::received() == SIGUSR1 ? 0 : 1);
}

TEST(Signals, ComputeThreadsBlockTheStopSignalsAndTheWatcherRecordsTheFirst) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(check_routing_and_exit(), ::testing::ExitedWithCode(0),
              "threads blocking the stop signals: 1 1; signal recorded: " + std::to_string(SIGUSR1));
}

TEST(Signals, ASecondSignalExitsImmediately) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 100000);
  const pid_t child = start_pretrain(scratch.path(), {run.config.string(), "--set", "eval.interval=0"});
  ASSERT_TRUE(wait_for_records(run.out_dir, 2, child)) << read_text(scratch / "stderr.txt");
  // Both arrive before the step ends; the watcher thread takes them in turn.
  ::kill(child, SIGINT);
  ::kill(child, SIGTERM);
  const int status = wait_exit_status(child);
  EXPECT_TRUE(status == 128 + SIGINT || status == 128 + SIGTERM) << "exit status " << status;
  EXPECT_NE(read_text(scratch / "stderr.txt").find("second signal, exiting immediately"), std::string::npos);
}

TEST(Signals, SigtermDuringSetupEndsTheProcessAtOnceWithNothingSaved) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 100000);
  // A corpus of some megabytes: tokenizing and sharding it keeps the run in its setup for
  // seconds, long after the signal is sent.
  write_text(scratch / "corpus.txt", testing::tiny_corpus_text(600000));
  const pid_t child = start_pretrain(scratch.path(), {run.config.string()});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  pid_t ended = 0;
  int status = 0;
  while (read_text(scratch / "stdout.txt").find("tapelm pretrain: out_dir") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline && (ended = ::waitpid(child, &status, WNOHANG)) == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // A child already reaped is not signalled: its pid may belong to another process by now.
  ASSERT_EQ(ended, 0) << "the run ended before the signal (status " << status << "): "
                      << read_text(scratch / "stderr.txt");
  ::kill(child, SIGTERM);
  EXPECT_EQ(wait_exit_status(child), 128 + SIGTERM) << read_text(scratch / "stderr.txt");
  EXPECT_NE(read_text(scratch / "stderr.txt").find("interrupted during setup"), std::string::npos);
  EXPECT_TRUE(list_checkpoint_dirs(run.out_dir).empty());
  EXPECT_FALSE(fs::exists(run.out_dir / "metrics.jsonl"));
}

}  // namespace
}  // namespace tapelm
