// End-to-end tests of data-parallel pretraining: the BUILT `tapelm pretrain` binary run under
// mpirun (the launcher command in TAPELM_TEST_MPIEXEC) on a tiny generated corpus, compared
// with plain single-process runs: 2 ranks × micro-batch B train like 1 process × 2B, a
// 2-rank run resumed from a checkpoint continues bitwise exactly, a checkpoint written by 2
// ranks continues in 1 process (and 1 on 2) like the uninterrupted run, and a killed rank or SIGUSR1 ends the job promptly with
// the last checkpoint intact. They run outside mpirun (each test launches its own jobs).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include <tapelm/autograd/rng.h>
#include "job_helpers.h"

namespace tapelm::testing {
namespace {

namespace fs = std::filesystem;

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
class PretrainJob : public LaunchedJobTest {
 protected:
  void SetUp() override {
    LaunchedJobTest::SetUp();
    if (IsSkipped()) return;
    write_text(dir_ / "corpus.txt", corpus_text());
  }

  // A 1-layer GPT without biases (whose zero-gradient key bias would let Adam amplify
  // rounding differences, see tests/mpi/tiny_training.h), global batch 8, one thread per
  // process. The warmup-then-constant schedule makes runs of different max_steps share
  // their learning rates.
  fs::path write_config(const std::string& name, int64_t micro_batch, double dropout, int64_t max_steps,
                        int64_t checkpoint_interval = 10) const {
    const fs::path config = dir_ / (name + ".yaml");
    write_text(config, "out_dir: " + (dir_ / name).string() + "\nseed: 11\n" +
                          "model: {n_layer: 1, n_head: 2, n_embd: 32, ctx_len: 32, bias: false, dropout: " +
                          std::to_string(dropout) + "}\n" +
                          "tokenizer: {vocab_size: 100, byte_fallback: false, character_coverage: 1.0}\n"
                          "data: {train: " + (dir_ / "corpus.txt").string() +
                          ", val_fraction: 0.1, cache_dir: " + (dir_ / "cache").string() + "}\n" +
                          "optimizer: {lr: 3.0e-3, beta2: 0.95, weight_decay: 0.1}\n"
                          "scheduler: {name: constant, warmup_steps: 5}\n"
                          "train: {max_steps: " + std::to_string(max_steps) + ", batch_size: 8, micro_batch_size: " +
                          std::to_string(micro_batch) + ", threads: 1, grad_clip: 1.0}\n" +
                          "eval: {interval: 10, max_examples: 8, batch_size: 4}\n"
                          "logging: {interval: 1}\n"
                          "checkpoint: {interval: " + std::to_string(checkpoint_interval) + ", keep_last: 0}\n"
                          "sample: {max_new_tokens: 0}\n");
    return config;
  }

  fs::path out_dir(const std::string& name) const { return dir_ / name; }

  // `tapelm pretrain CONFIG args` on `ranks` processes under mpirun, or a plain run for ranks == 0.
  std::string command(int ranks, const fs::path& config, const std::string& args = "") const {
    return tapelm_command(ranks, "pretrain " + config.string() + " " + args);
  }

  void expect_resume_continues_the_run(int before, int after) const;
  void expect_two_rank_resume_is_exact(const std::string& args, const std::vector<std::string>& files) const;
};

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

// Runs 20 steps on 2 ranks at once and as 10 + 10 with `args`; expects the same records and
// checkpoint files.
void PretrainJob::expect_two_rank_resume_is_exact(const std::string& args,
                                                  const std::vector<std::string>& files) const {
  // Dropout on: its masks must follow the step after the resume too.
  const Finished whole = run(command(2, write_config("whole", 2, 0.1, 20), args));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const fs::path halves_config = write_config("halves", 2, 0.1, 10);
  const Finished first = run(command(2, halves_config, args));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const Finished second = run(command(2, halves_config, args + " --set train.max_steps=20 --resume"));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_TRUE(contains(second.output, "resuming from")) << second.output;

  const auto expected = train_records(out_dir("whole"));
  ASSERT_EQ(expected.size(), 20u);
  EXPECT_EQ(train_records(out_dir("halves")), expected);
  for (const std::string& file : files) {
    EXPECT_EQ(read_text(checkpoint_file(out_dir("halves"), 20, file)),
              read_text(checkpoint_file(out_dir("whole"), 20, file)))
        << file;
  }
}

TEST_F(PretrainJob, TwoRankRunResumedFromACheckpointContinuesBitwiseExactly) {
  expect_two_rank_resume_is_exact("", {"weights.safetensors", "optimizer.safetensors", "trainer_state.json"});
  const nlohmann::json state =
      nlohmann::json::parse(read_text(checkpoint_file(out_dir("whole"), 20, "trainer_state.json")));
  EXPECT_EQ(state["world_size"], 2);
  EXPECT_FALSE(state.contains("dropout_rng_per_rank")) << "dropout has no per-rank state";
}

TEST_F(PretrainJob, TwoRankRunWithAnEmaResumesItsWeightsAndAverageBitwiseExactly) {
  expect_two_rank_resume_is_exact("--set train.ema_decay=0.9", {"weights.safetensors", "train_weights.safetensors",
                                                                "optimizer.safetensors", "trainer_state.json"});
  EXPECT_TRUE(fs::exists(checkpoint_file(out_dir("whole"), 20, "train_weights.safetensors")));
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
  expect_same_losses_within(losses(out_dir("moved")), losses(out_dir("whole")), 1e-5);
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
  expect_killed_rank_ends_job(command(2, write_config("run", 2, 0.0, 100000, 5)), "killed", out_dir("run"), 10);
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
  EXPECT_TRUE(contains(log, "resume with: mpirun -np 2 tapelm pretrain " + config.string())) << log;

  // Had the ranks stopped after different steps, one would have waited forever in a
  // collective; the checkpoint they agreed on resumes with 2 ranks. A slow build (the
  // sanitizers) may stop after step 1, and max_steps must stay above the 5 warmup steps.
  const int64_t max_steps = std::max<int64_t>(step + 2, 6);
  const Finished resumed = run(command(2, config, "--set train.max_steps=" + std::to_string(max_steps) + " --resume"));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(train_records(out_dir("run")).size(), size_t(max_steps));
}

}  // namespace
}  // namespace tapelm::testing
