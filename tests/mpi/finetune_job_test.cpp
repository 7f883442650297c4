// End-to-end tests of data-parallel fine-tuning: the BUILT `tapelm finetune` binary run
// under mpirun (the launcher command in TAPELM_TEST_MPIEXEC) on tiny classification and
// seq2seq data, compared with plain single-process runs: 2 ranks × micro-batch B train and
// evaluate like 1 process × 2B (dropout on, seq2seq targets of uneven lengths so the loss is
// weighted by tokens; the average of the last checkpoints validated alike), 2 ranks sharing
// micro-batches of grouped lengths by cost train like 1 process with the same micro-batches,
// a 2-rank run resumed from a checkpoint continues bitwise exactly, a checkpoint of 2 ranks
// continues in 1 process like the uninterrupted run, and a killed rank ends the job promptly
// with the last checkpoint intact. They run outside mpirun (each test launches its own jobs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "job_helpers.h"
#include "tests/train/finetune_fixture.h"

namespace tapelm::testing {
namespace {

namespace fs = std::filesystem;

// Toy grapheme-to-phoneme pairs: each letter of a..f has a fixed "phoneme"; words of 1 to 5
// letters, so the micro-batches of a step hold different numbers of target tokens.
std::string toy_seq2seq_tsv() {
  static const char* const sounds[] = {"AA1", "B", "K", "D", "EH0", "F"};
  std::string tsv = "word\tphonemes\n";
  uint64_t state = 7;
  for (int i = 0; i < 60; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const int len = 1 + int((state >> 40) % 5);
    std::string word, phonemes;
    for (int k = 0; k < len; ++k) {
      const int letter = int((state >> (8 + 5 * k)) % 6);
      word += char('a' + letter);
      phonemes += std::string(k ? " " : "") + sounds[letter];
    }
    tsv += word + "\t" + phonemes + "\n";
  }
  return tsv;
}

// The tasks' configs share everything but their data, model, learning rate and early-stopping
// metric: global batch 8, dropout 0.1, one thread per process, a loss record every step, val
// evaluation every 10 steps in batches of 4 (so both ranks evaluate a share), and the test
// split at the end.
class FinetuneJob : public LaunchedJobTest {
 protected:
  void SetUp() override {
    LaunchedJobTest::SetUp();
    if (IsSkipped()) return;
    write_text(dir_ / "toy.jsonl", toy_classification_jsonl());
    write_text(dir_ / "g2p.tsv", toy_seq2seq_tsv());
  }

  fs::path classification_config(const std::string& name, int64_t micro_batch, int64_t max_steps,
                                  int64_t checkpoint_interval = 10) const {
    return write_config(name, micro_batch, max_steps, checkpoint_interval,
                        "task: classification\n"
                        "model: {n_layer: 2, n_head: 2, n_embd: 32, ctx_len: 32, dropout: 0.1}\n"
                        "tokenizer: {vocab_size: 60, byte_fallback: false, character_coverage: 1.0}\n"
                        "data: {format: jsonl, train: " + (dir_ / "toy.jsonl").string() + ", max_len: 16}\n"
                        "classification: {class_weights: {good: 3.0, bad: 1.0}}\n");
  }

  // `data_keys`: more keys of the data section, e.g. ", group_by_length: true".
  fs::path seq2seq_config(const std::string& name, int64_t micro_batch, int64_t max_steps,
                          const std::string& data_keys = "") const {
    return write_config(name, micro_batch, max_steps, 10,
                        "task: seq2seq\n"
                        "model: {n_layer: 1, n_head: 2, n_embd: 32, ffn_hidden: 64, ctx_len: 12, dropout: 0.1, "
                        "pos_encoding: sinusoidal}\n"
                        "tokenizer: {type: char, vocab_size: 40, byte_fallback: false, character_coverage: 1.0}\n"
                        "target_tokenizer: {type: word, vocab_size: 40, byte_fallback: false, "
                        "character_coverage: 1.0}\n"
                        "data: {format: tsv, train: " + (dir_ / "g2p.tsv").string() +
                        ", input_field: word, target_field: phonemes" + data_keys + "}\n"
                        "decode: {max_len: 8}\n",
                        "1.0e-2", "per");
  }

  fs::path write_config(const std::string& name, int64_t micro_batch, int64_t max_steps, int64_t checkpoint_interval,
                        const std::string& task_sections, const std::string& lr = "3.0e-3",
                        const std::string& eval_metric = "") const {
    const fs::path config = dir_ / (name + ".yaml");
    write_text(config, "out_dir: " + out_dir(name).string() + "\nseed: 3\n" + task_sections +
                           "optimizer: {lr: " + lr + ", weight_decay: 0.0}\n"
                           "scheduler: {name: constant, warmup_steps: 0}\n"
                           "train: {max_steps: " + std::to_string(max_steps) + ", batch_size: 8, micro_batch_size: " +
                           std::to_string(micro_batch) + ", threads: 1}\n"
                           "eval: {interval: 10, batch_size: 4" + (eval_metric.empty() ? "" : ", metric: " + eval_metric) +
                           "}\n"
                           "logging: {interval: 1}\n"
                           "checkpoint: {interval: " + std::to_string(checkpoint_interval) + ", keep_last: 0}\n");
    return config;
  }

  fs::path out_dir(const std::string& name) const { return dir_ / name; }

  // `tapelm finetune CONFIG args` on `ranks` processes under mpirun, or a plain run for ranks == 0.
  std::string command(int ranks, const fs::path& config, const std::string& args = "") const {
    return tapelm_command(ranks, "finetune " + config.string() + " " + args);
  }

  // The metrics named <prefix>... of the last record that has them (the final val_ or the
  // test_ evaluation).
  std::map<std::string, double> last_metrics(const std::string& name, const std::string& prefix) const {
    std::map<std::string, double> metrics;
    std::istringstream lines(read_text(out_dir(name) / "metrics.jsonl"));
    std::string line;
    while (std::getline(lines, line)) {
      const nlohmann::json record = nlohmann::json::parse(line);
      std::map<std::string, double> found;
      for (const auto& [key, value] : record.items()) {
        if (key.rfind(prefix, 0) == 0 && value.is_number()) found[key] = value.get<double>();
      }
      if (!found.empty()) metrics = found;
    }
    return metrics;
  }

  // Both runs' every logged loss within 1e-5 relative, and their final val_, average_val_ and
  // test_ metrics too; `exact` metrics (counts of right answers) are equal.
  void expect_same_training(const std::string& got, const std::string& expected, int64_t steps,
                            const std::vector<std::string>& exact) const {
    const std::vector<double> a = losses(out_dir(got)), b = losses(out_dir(expected));
    ASSERT_EQ(b.size(), size_t(steps));
    expect_same_losses_within(a, b, 1e-5);
    EXPECT_LT(b.back(), b.front()) << "the loss falls";
    for (const std::string prefix : {"val_", "average_val_", "test_"}) {
      const std::map<std::string, double> want = last_metrics(expected, prefix), have = last_metrics(got, prefix);
      ASSERT_FALSE(want.empty()) << "no " << prefix << " metrics in " << expected;
      ASSERT_EQ(have.size(), want.size()) << prefix;
      for (const auto& [key, value] : want) {
        const bool is_exact = std::find(exact.begin(), exact.end(), key.substr(prefix.size())) != exact.end();
        if (is_exact) {
          EXPECT_EQ(have.at(key), value) << key;
        } else {
          EXPECT_NEAR(have.at(key), value, 1e-5 * std::abs(value)) << key;
        }
      }
    }
  }

  // The configs of out dirs "two_ranks" and "one_process": `two_ranks` under mpirun -np 2 (its
  // log naming the split `two_split`) and `one_process`
  // alone (naming `one_split`, unless empty), both 20 steps ending with the average of their
  // checkpoints of steps 10 and 20: the same training and metrics, `exact` ones equal.
  void expect_two_ranks_train_like_one_process(const fs::path& two_ranks, const std::string& two_split,
                                               const fs::path& one_process, const std::string& one_split,
                                               const std::vector<std::string>& exact) const {
    const std::string average_last_two = "--set checkpoint.average_last=2";
    const Finished two = run(command(2, two_ranks, average_last_two));
    ASSERT_EQ(two.exit_code, 0) << two.output;
    const Finished one = run(command(0, one_process, average_last_two));
    ASSERT_EQ(one.exit_code, 0) << one.output;
    EXPECT_TRUE(contains(two.output, two_split)) << two.output;
    if (!one_split.empty()) {
      EXPECT_TRUE(contains(one.output, one_split)) << one.output;
    }
    expect_same_training("two_ranks", "one_process", 20, exact);
  }
};

// Class weights: each micro-batch's mean loss counts as much as its examples' weights sum to.
TEST_F(FinetuneJob, ClassificationOnTwoRanksWithMicroBatchBTrainsAndEvaluatesLikeOneProcessWith2B) {
  expect_two_ranks_train_like_one_process(classification_config("two_ranks", 2, 20),
                                          "2 ranks x micro-batch 2 x 2 accumulation steps",
                                          classification_config("one_process", 4, 20),
                                          "micro-batch 4, 2 accumulation steps", {"accuracy", "macro_f1"});
}

// Targets of 1 to 5 tokens: each micro-batch's mean loss counts as many tokens as it holds,
// however the batch is split. The decoded val and test predictions are scored too, and so is
// the average of the checkpoints (steps 10 and 20) that rank 0 writes and every rank
// validates. (20 steps:
// at this learning rate the losses agree to about 3e-7 relative by step 20, but Adam
// amplifies the rounding differences to about 3e-6 by step 30.)
TEST_F(FinetuneJob, Seq2SeqOnTwoRanksWithMicroBatchBTrainsAndEvaluatesLikeOneProcessWith2B) {
  expect_two_ranks_train_like_one_process(seq2seq_config("two_ranks", 2, 20),
                                          "2 ranks x micro-batch 2 x 2 accumulation steps",
                                          seq2seq_config("one_process", 4, 20), "", {"wer", "per"});
}

// Micro-batches of words of similar length (data.group_by_length groups by micro-batch, so both
// runs use micro-batches of 2): the ranks share a step's four by their cost, and whichever rank
// computes a micro-batch, its examples and dropout masks are the same and the step's gradient
// the same sum. (Which shares costs give is MicroBatchShares' subject, in tests/train.)
TEST_F(FinetuneJob, Seq2SeqWithLengthGroupsOnTwoRanksTrainsLikeOneProcessWithTheSameMicroBatches) {
  const std::string grouped = ", group_by_length: true";
  expect_two_ranks_train_like_one_process(seq2seq_config("two_ranks", 2, 20, grouped),
                                          "2 ranks x micro-batch 2 x 2 accumulation steps",
                                          seq2seq_config("one_process", 2, 20, grouped),
                                          "micro-batch 2, 4 accumulation steps", {"wer", "per"});
}

TEST_F(FinetuneJob, TwoRankRunResumedFromACheckpointContinuesBitwiseExactly) {
  const Finished whole = run(command(2, classification_config("whole", 2, 20)));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const fs::path halves_config = classification_config("halves", 2, 10);
  const Finished first = run(command(2, halves_config));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const Finished second = run(command(2, halves_config, "--set train.max_steps=20 --resume"));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_TRUE(contains(second.output, "resuming from")) << second.output;

  const auto expected = train_records(out_dir("whole"));
  ASSERT_EQ(expected.size(), 20u);
  EXPECT_EQ(train_records(out_dir("halves")), expected);
  for (const char* file : {"weights.safetensors", "optimizer.safetensors", "trainer_state.json"}) {
    EXPECT_EQ(read_text(checkpoint_file(out_dir("halves"), 20, file)),
              read_text(checkpoint_file(out_dir("whole"), 20, file)))
        << file;
  }
}

TEST_F(FinetuneJob, ACheckpointOfTwoRanksResumesInOneProcessAndContinuesTheUninterruptedRun) {
  const Finished whole = run(command(2, classification_config("whole", 2, 12, 6)));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const fs::path config = classification_config("moved", 2, 6, 6);
  const Finished two = run(command(2, config));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  const Finished one = run(command(0, config, "--set train.max_steps=12 --resume"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_TRUE(contains(one.output, "resume: the checkpoint was written by 2 processes, this run has 1")) << one.output;
  EXPECT_TRUE(contains(one.output, "micro-batch 2, 4 accumulation steps")) << one.output;
  expect_same_losses_within(losses(out_dir("moved")), losses(out_dir("whole")), 1e-5);
}

TEST_F(FinetuneJob, AKilledRankEndsTheJobAndTheLastCheckpointResumesOnTwoRanks) {
  const fs::path config = classification_config("run", 2, 100000, 5);
  expect_killed_rank_ends_job(command(2, config), "killed", out_dir("run"), 10);
  if (HasFatalFailure()) return;
  const int64_t step = locate_checkpoint(out_dir("run")).step;
  const Finished resumed = run(command(2, config, "--set train.max_steps=" + std::to_string(step + 2) + " --resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "resuming from")) << resumed.output;
  const auto records = train_records(out_dir("run"));
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.rbegin()->first, step + 2);
}

}  // namespace
}  // namespace tapelm::testing
