// Shared by the end-to-end tests that run the BUILT tapelm binary as jobs under mpirun (the
// launcher command in TAPELM_TEST_MPIEXEC): a fixture that builds and starts such jobs in a
// scratch dir, readers of what a run wrote (its train records and checkpoints), and the
// waits and process lookups of the tests that kill a rank. These tests run outside mpirun.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "scratch_dir.h"
#include "shell_command.h"
#include <tapelm/train/checkpoint/checkpoint.h>
#include "world.h"

namespace tapelm::testing {

using JobClock = std::chrono::steady_clock;

class LaunchedJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (world().uses_mpi()) GTEST_SKIP() << "launches its own mpirun jobs, so it runs outside mpirun";
    const char* launcher = std::getenv("TAPELM_TEST_MPIEXEC");
    if (!launcher) GTEST_SKIP() << "TAPELM_TEST_MPIEXEC (the mpirun command) is not set; ctest sets it";
    launcher_ = launcher;
  }

  // The shell command for `tapelm ARGS`: under mpirun with `ranks` processes, or a plain run
  // for ranks == 0.
  std::string tapelm_command(int ranks, const std::string& args) const {
    const std::string command = std::string(TAPELM_BINARY) + " " + args;
    return ranks == 0 ? command : launcher_ + " -np " + std::to_string(ranks) + " " + command;
  }

  // Its exit status and what it printed on stdout and stderr.
  Finished run(const std::string& shell_command) const { return run_shell(shell_command + " 2>&1"); }

  // A job in the background with output to <scratch>/<name>.log, for tests that interrupt it.
  pid_t start(const std::string& shell_command, const std::string& name) const {
    const std::string log = (dir_ / (name + ".log")).string();
    const pid_t pid = ::fork();
    if (pid == 0) {
      // Its own process group: the test can end it (and its ranks) should it fail midway.
      ::setpgid(0, 0);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::execl("/bin/sh", "sh", "-c", ("exec " + shell_command).c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  }

  std::string log_of(const std::string& name) const { return read_text(dir_ / (name + ".log")); }

  // An environment entry that marks the processes of this test's jobs, for find_rank.
  std::string job_marker() const { return "TAPELM_TEST_JOB=" + dir_.path().string(); }

  // Starts `shell_command` (a 2-rank job whose run writes `out_dir`) as job `name`, kills
  // rank 1 once the checkpoint of `step` exists and expects the job to end promptly with a
  // non-zero status, its last checkpoint (at `step` or later) intact.
  void expect_killed_rank_ends_job(const std::string& shell_command, const std::string& name,
                                   const std::filesystem::path& out_dir, int64_t step) const;

  ScratchDir dir_;
  std::string launcher_;
};

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// step → the train record's text as written, without its timing field (tokens_per_s or
// examples_per_s), which differs between otherwise identical runs.
inline std::map<int64_t, std::string> train_records(const std::filesystem::path& out_dir) {
  std::map<int64_t, std::string> records;
  std::istringstream lines(read_text(out_dir / "metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    nlohmann::json record = nlohmann::json::parse(line);
    if (!record.contains("loss")) continue;
    record.erase("tokens_per_s");
    record.erase("examples_per_s");
    records[record["step"].get<int64_t>()] = record.dump();
  }
  return records;
}

// The logged training losses in step order.
inline std::vector<double> losses(const std::filesystem::path& out_dir) {
  std::vector<double> values;
  for (const auto& [step, text] : train_records(out_dir)) values.push_back(nlohmann::json::parse(text)["loss"]);
  return values;
}

inline void expect_same_losses_within(const std::vector<double>& got, const std::vector<double>& expected,
                                      double tolerance) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], expected[i], tolerance * std::abs(expected[i])) << "logged loss " << i + 1;
  }
}

inline std::filesystem::path checkpoint_file(const std::filesystem::path& out_dir, int64_t step,
                                             const std::string& file) {
  return checkpoints_dir(out_dir) / checkpoint_dir_name(step) / file;
}

// Waits for `pid` to exit for up to `seconds`; returns its exit status (128 + signal when
// killed), or -1 on timeout, after which the job's process group is killed.
inline int wait_for_exit(pid_t pid, double seconds) {
  const auto deadline = JobClock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (JobClock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

// Waits until `path` exists (true) or `seconds` pass (false).
inline bool wait_for_file(const std::filesystem::path& path, double seconds) {
  const auto deadline = JobClock::now() + std::chrono::duration<double>(seconds);
  while (JobClock::now() < deadline) {
    if (std::filesystem::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The process whose environment holds both `marker` and OMPI_COMM_WORLD_RANK=<rank>, or -1.
inline pid_t find_rank(const std::string& marker, int rank) {
  const std::string rank_entry = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const std::filesystem::directory_entry& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string environ = read_text(entry.path() / "environ");
    bool has_marker = false, has_rank = false;
    for (size_t at = 0; at < environ.size();) {
      const size_t end = std::min(environ.find('\0', at), environ.size());
      const std::string variable = environ.substr(at, end - at);
      has_marker = has_marker || variable == marker;
      has_rank = has_rank || variable == rank_entry;
      at = end + 1;
    }
    if (has_marker && has_rank) return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

inline void LaunchedJobTest::expect_killed_rank_ends_job(const std::string& shell_command, const std::string& name,
                                                         const std::filesystem::path& out_dir, int64_t step) const {
  const pid_t job = start("env " + job_marker() + " " + shell_command, name);
  ASSERT_TRUE(wait_for_file(checkpoints_dir(out_dir) / checkpoint_dir_name(step), 60)) << log_of(name);
  const pid_t rank1 = find_rank(job_marker(), 1);
  ASSERT_GT(rank1, 0) << "rank 1's process not found";
  ::kill(rank1, SIGKILL);
  const auto killed_at = JobClock::now();
  const int status = wait_for_exit(job, 30);
  const double seconds = std::chrono::duration<double>(JobClock::now() - killed_at).count();
  EXPECT_NE(status, -1) << "the job hung after rank 1 died\n" << log_of(name);
  EXPECT_NE(status, 0) << log_of(name);
  EXPECT_LT(seconds, 15.0);

  std::vector<std::string> skipped;
  const Checkpoint last = locate_checkpoint(out_dir, &skipped);
  EXPECT_GE(last.step, step);
  EXPECT_TRUE(skipped.empty()) << skipped.front();
  EXPECT_EQ(verify_checkpoint(last.dir).step, last.step);
}

}  // namespace tapelm::testing
