// End-to-end tests of data-parallel pretraining: the BUILT `tapelm pretrain` binary run under
// mpirun (the launcher command in TAPELM_TEST_MPIEXEC) on a tiny generated corpus, compared
// with plain single-process runs: 2 ranks × micro-batch B train like 1 process × 2B, a
// 2-rank run resumed from a checkpoint continues bitwise exactly, a checkpoint written by 2
// ranks continues in 1 process (and 1 on 2) like the uninterrupted run, and a killed rank or SIGUSR1 ends the job promptly with
// the last checkpoint intact. They run outside mpirun (each test launches its own jobs).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "autograd/rng.h"
#include "scratch_dir.h"
#include "shell_command.h"
#include "train/checkpoint.h"
#include "world.h"

namespace tapelm::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_all(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Sentences from a small grammar: learnable, so the loss falls within a few steps.
std::string corpus_text() {
  const std::vector<std::string> words[] = {
      {"the whale", "the captain", "a sailor", "the mate", "the crew", "a harpooneer"},
      {"saw", "chased", "feared", "followed", "watched", "left"},
      {"the sea", "the storm", "a boat", "the deck", "the island", "a light"},
      {".", " at dawn.", " again.", " in the night."}};
  Rng rng(3);
  std::string text;
  for (int i = 0; i < 1000; ++i) {
    for (int part = 0; part < 4; ++part) {
      text += (part == 1 || part == 2 ? " " : "") + words[part][rng.below(static_cast<uint64_t>(words[part].size()))];
    }
    text += i % 6 == 5 ? "\n" : " ";
  }
  return text;
}

// A scratch dir holding the corpus, a shared data cache and the runs' configs.
class PretrainJob : public ::testing::Test {
 protected:
  void SetUp() override {
    if (world().uses_mpi()) GTEST_SKIP() << "launches its own mpirun jobs, so it runs outside mpirun";
    const char* launcher = std::getenv("TAPELM_TEST_MPIEXEC");
    if (!launcher) GTEST_SKIP() << "TAPELM_TEST_MPIEXEC (the mpirun command) is not set; ctest sets it";
    launcher_ = launcher;
    write_all(dir_.path() / "corpus.txt", corpus_text());
  }

  // A 1-layer GPT without biases (whose zero-gradient key bias would let Adam amplify
  // rounding differences, see tests/mpi/tiny_training.h), global batch 8, one thread per
  // process. The warmup-then-constant schedule makes runs of different max_steps share
  // their learning rates.
  fs::path write_config(const std::string& name, int64_t micro_batch, double dropout, int64_t max_steps,
                        int64_t checkpoint_interval = 10) const {
    const fs::path config = dir_.path() / (name + ".yaml");
    write_all(config, "out_dir: " + (dir_.path() / name).string() + "\nseed: 11\n" +
                          "model: {n_layer: 1, n_head: 2, n_embd: 32, ctx_len: 32, bias: false, dropout: " +
                          std::to_string(dropout) + "}\n" +
                          "tokenizer: {vocab_size: 100, byte_fallback: false, character_coverage: 1.0}\n"
                          "data: {train: " + (dir_.path() / "corpus.txt").string() +
                          ", val_fraction: 0.1, cache_dir: " + (dir_.path() / "cache").string() + "}\n" +
                          "optimizer: {lr: 3.0e-3, beta2: 0.95, weight_decay: 0.1}\n"
                          "scheduler: {name: constant, warmup_steps: 5}\n"
                          "train: {max_steps: " + std::to_string(max_steps) + ", batch_size: 8, micro_batch_size: " +
                          std::to_string(micro_batch) + ", threads: 1, grad_clip: 1.0}\n" +
                          "eval: {interval: 10, batches: 2}\n"
                          "logging: {interval: 1}\n"
                          "checkpoint: {interval: " + std::to_string(checkpoint_interval) + ", keep_last: 0}\n"
                          "sample: {max_new_tokens: 0}\n");
    return config;
  }

  fs::path out_dir(const std::string& name) const { return dir_.path() / name; }

  // The shell command for `tapelm pretrain CONFIG args`: under mpirun with `ranks`
  // processes, or a plain run for ranks == 0.
  std::string command(int ranks, const fs::path& config, const std::string& args = "") const {
    const std::string pretrain = std::string(TAPELM_BINARY) + " pretrain " + config.string() + " " + args;
    return ranks == 0 ? pretrain : launcher_ + " -np " + std::to_string(ranks) + " " + pretrain;
  }

  // Its exit status and what it printed on stdout and stderr.
  Finished run(const std::string& shell_command) const { return run_shell(shell_command + " 2>&1"); }

  // A job in the background with output to <scratch>/<name>.log, for tests that interrupt it.
  pid_t start(const std::string& shell_command, const std::string& name) const {
    const std::string log = (dir_.path() / (name + ".log")).string();
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

  std::string log_of(const std::string& name) const { return read_all(dir_.path() / (name + ".log")); }

  void expect_resume_continues_the_run(int before, int after) const;

  ScratchDir dir_;
  std::string launcher_;
};

// step → the train record's text as written, without its timing field.
std::map<int64_t, std::string> train_records(const fs::path& out_dir) {
  std::map<int64_t, std::string> records;
  std::istringstream lines(read_all(out_dir / "metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    nlohmann::json record = nlohmann::json::parse(line);
    if (!record.contains("loss")) continue;
    record.erase("tokens_per_s");
    records[record["step"].get<int64_t>()] = record.dump();
  }
  return records;
}

std::vector<double> losses(const fs::path& out_dir) {
  std::vector<double> values;
  for (const auto& [step, text] : train_records(out_dir)) values.push_back(nlohmann::json::parse(text)["loss"]);
  return values;
}

fs::path checkpoint_file(const fs::path& out_dir, int64_t step, const std::string& file) {
  return checkpoints_dir(out_dir) / checkpoint_dir_name(step) / file;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Waits for `pid` to exit for up to `seconds`; returns its exit status (128 + signal when
// killed), or -1 on timeout, after which the job's process group is killed.
int wait_for_exit(pid_t pid, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (Clock::now() < deadline) {
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
bool wait_for_file(const fs::path& path, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    if (fs::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The process whose environment holds both `marker` and OMPI_COMM_WORLD_RANK=<rank>, or -1.
pid_t find_rank(const std::string& marker, int rank) {
  const std::string rank_entry = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const fs::directory_entry& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string environ = read_all(entry.path() / "environ");
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

// With dropout on: masks depend on each window's index in the global batch, not on the rank.
TEST_F(PretrainJob, TwoRanksWithMicroBatchBLoseLikeOneProcessWithMicroBatch2B) {
  const Finished two = run(command(2, write_config("two_ranks", 2, 0.1, 20)));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  const Finished one = run(command(0, write_config("one_process", 4, 0.1, 20)));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_TRUE(contains(two.output, "2 ranks x micro-batch 2 x 2 accumulation steps")) << two.output;
  EXPECT_TRUE(contains(one.output, "micro-batch 4, 2 accumulation steps")) << one.output;

  const std::vector<double> a = losses(out_dir("two_ranks")), b = losses(out_dir("one_process"));
  ASSERT_EQ(a.size(), 20u);
  ASSERT_EQ(b.size(), 20u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i], b[i], 1e-5 * std::abs(b[i])) << "step " << i + 1;
  }
  EXPECT_LT(a.back(), a.front() - 0.5) << "the loss falls";
}

TEST_F(PretrainJob, TwoRankRunResumedFromACheckpointContinuesBitwiseExactly) {
  // Dropout on: its masks must follow the step after the resume too.
  const Finished whole = run(command(2, write_config("whole", 2, 0.1, 20)));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const fs::path halves_config = write_config("halves", 2, 0.1, 10);
  const Finished first = run(command(2, halves_config));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const Finished second = run(command(2, halves_config, "--set train.max_steps=20 --resume"));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_TRUE(contains(second.output, "resuming from")) << second.output;

  const auto expected = train_records(out_dir("whole"));
  ASSERT_EQ(expected.size(), 20u);
  EXPECT_EQ(train_records(out_dir("halves")), expected);
  for (const char* file : {"weights.safetensors", "optimizer.safetensors", "trainer_state.json"}) {
    EXPECT_EQ(read_all(checkpoint_file(out_dir("halves"), 20, file)),
              read_all(checkpoint_file(out_dir("whole"), 20, file)))
        << file;
  }
  const nlohmann::json state =
      nlohmann::json::parse(read_all(checkpoint_file(out_dir("whole"), 20, "trainer_state.json")));
  EXPECT_EQ(state["world_size"], 2);
  EXPECT_FALSE(state.contains("dropout_rng_per_rank")) << "dropout has no per-rank state";
}

// A checkpoint moves between job sizes: each step sees the same windows and dropout masks
// whatever the number of ranks, so only the order of the gradient sums differs. Runs 12 steps
// on `before` ranks, and 6 on `before` then 6 more on `after` (0: a plain process), with
// dropout on, and compares the losses.
void PretrainJob::expect_resume_continues_the_run(int before, int after) const {
  const Finished whole = run(command(before, write_config("whole", 2, 0.1, 12, 6)));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const fs::path config = write_config("moved", 2, 0.1, 6, 6);
  const Finished first = run(command(before, config));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const Finished second = run(command(after, config, "--set train.max_steps=12 --resume"));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  const int written = std::max(before, 1), resumed = std::max(after, 1);
  EXPECT_TRUE(contains(second.output, "resume: the checkpoint was written by " + std::to_string(written) +
                                          (written == 1 ? " process" : " processes") + ", this run has " +
                                          std::to_string(resumed)))
      << second.output;
  const std::vector<double> got = losses(out_dir("moved")), expected = losses(out_dir("whole"));
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], expected[i], 1e-5 * std::abs(expected[i])) << "step " << i + 1;
  }
}

TEST_F(PretrainJob, ACheckpointOfTwoRanksResumesInOneProcessAndContinuesTheUninterruptedRun) {
  expect_resume_continues_the_run(2, 0);
}

TEST_F(PretrainJob, ACheckpointOfOneProcessResumesOnTwoRanksAndContinuesTheUninterruptedRun) {
  expect_resume_continues_the_run(0, 2);
}

TEST_F(PretrainJob, BatchSizeTheRanksCannotShareIsAConfigErrorNamingTheKeys) {
  const Finished job = run(command(3, write_config("run", 2, 0.0, 6)));
  EXPECT_EQ(job.exit_code, 2) << job.output;
  EXPECT_TRUE(contains(job.output, "train.batch_size (8) must be a multiple of train.micro_batch_size (2) x 3 ranks"))
      << job.output;
}

TEST_F(PretrainJob, AKilledRankEndsTheJobAndLeavesTheLastCheckpointIntact) {
  const std::string marker = "TAPELM_TEST_JOB=" + dir_.path().string();
  const pid_t job = start("env " + marker + " " + command(2, write_config("run", 2, 0.0, 100000, 5)), "killed");
  ASSERT_TRUE(wait_for_file(checkpoints_dir(out_dir("run")) / checkpoint_dir_name(10), 60)) << log_of("killed");
  const pid_t rank1 = find_rank(marker, 1);
  ASSERT_GT(rank1, 0) << "rank 1's process not found";
  ::kill(rank1, SIGKILL);
  const auto killed_at = Clock::now();
  const int status = wait_for_exit(job, 30);
  const double seconds = std::chrono::duration<double>(Clock::now() - killed_at).count();
  EXPECT_NE(status, -1) << "the job hung after rank 1 died\n" << log_of("killed");
  EXPECT_NE(status, 0) << log_of("killed");
  EXPECT_LT(seconds, 15.0);

  std::vector<std::string> skipped;
  const Checkpoint last = locate_checkpoint(out_dir("run"), &skipped);
  EXPECT_GE(last.step, 10);
  EXPECT_TRUE(skipped.empty()) << skipped.front();
}

TEST_F(PretrainJob, SigusrOneToMpirunStopsEveryRankAfterTheSameStepWithACheckpoint) {
  const fs::path config = write_config("run", 2, 0.0, 100000, 1000);
  const pid_t job = start(command(2, config), "stopped");
  ASSERT_TRUE(wait_for_file(out_dir("run") / "metrics.jsonl", 60)) << log_of("stopped");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(job, SIGUSR1);
  const int status = wait_for_exit(job, 30);
  const std::string log = log_of("stopped");
  ASSERT_EQ(status, 0) << log;
  const size_t at = log.find("stopped by SIGUSR1 after step ");
  ASSERT_NE(at, std::string::npos) << log;
  const int64_t step = std::stoll(log.substr(at + std::string("stopped by SIGUSR1 after step ").size()));
  const Checkpoint checkpoint = verify_checkpoint(checkpoints_dir(out_dir("run")) / checkpoint_dir_name(step));
  EXPECT_EQ(checkpoint.step, step);

  // Had the ranks stopped after different steps, one would have waited forever in a
  // collective; the checkpoint they agreed on resumes with 2 ranks.
  const Finished resumed = run(command(2, config, "--set train.max_steps=" + std::to_string(step + 2) + " --resume"));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(train_records(out_dir("run")).size(), size_t(step + 2));
}

}  // namespace
}  // namespace tapelm::testing
