// Tests for `tapelm check CONFIG`: the plan of a pretraining and of a classification config,
// nothing written in out_dir, and exit 2 with one error line for configs whose run would not
// start.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "finetune_fixture.h"
#include "tiny_run.h"
#include <tapelm/train/cli/check.h>
#include <tapelm/train/cli/cli.h>
#include <tapelm/train/loop/progress.h>

namespace tapelm {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::CliOutcome;
using testing::run_cli_in_process;
using testing::ScratchDir;

CliOutcome check(const fs::path& config, const std::vector<std::string>& overrides = {}) {
  std::vector<std::string> args = {"check", config.string()};
  for (const std::string& assignment : overrides) args.insert(args.end(), {"--set", assignment});
  return run_cli_in_process(args);
}

TEST(Check, PretrainingConfigPrintsThePlanAndWritesNothingInOutDir) {
  ScratchDir scratch;
  const testing::TinyRun run = testing::write_tiny_run(scratch);
  const CliOutcome outcome = check(run.config);
  EXPECT_EQ(outcome.exit_code, kExitOk) << outcome.err;
  EXPECT_EQ(outcome.err, "");
  EXPECT_THAT(outcome.out, HasSubstr(": pretraining config; out_dir " + run.out_dir.string()));
  EXPECT_THAT(outcome.out, HasSubstr(" (trained now), 120 pieces"));
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("data: [0-9]+ training tokens, [0-9]+ validation tokens"));
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("model: [0-9]+ parameters"));
  EXPECT_THAT(outcome.out, HasSubstr("batch: 8 sequences x 32 tokens = 256 tokens per step (micro-batch 4, 2 "
                                     "accumulation steps); 20 steps = "));
  EXPECT_THAT(outcome.out, HasSubstr(" epochs of the training data"));
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("compute: gemm (onednn|openblas|eigen), fp32\n"));
  EXPECT_THAT(outcome.out, HasSubstr("memory: estimated peak at least "));
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("; (available .+ \\(.+\\)|available memory unknown)"));
  EXPECT_THAT(outcome.out, HasSubstr("ok: the run would start\n"));
  EXPECT_FALSE(fs::exists(run.out_dir));
  EXPECT_TRUE(fs::exists(scratch / "cache")) << "the shard cache is filled, as the run would fill it first";
}

TEST(Check, ThePlanSaysWhenTheRunEvaluatesAnAverageOfTheWeights) {
  ScratchDir scratch;
  const testing::TinyRun run = testing::write_tiny_run(scratch);
  EXPECT_THAT(check(run.config, {"train.ema_decay=0.999"}).out,
              HasSubstr("epochs of the training data\nevaluating the EMA of the weights, decay 0.999\n"));
  EXPECT_THAT(check(run.config).out, ::testing::Not(HasSubstr("EMA")));
}

TEST(Check, PretrainingParametersAreTheModelsCount) {
  ScratchDir scratch;
  const testing::TinyRun run = testing::write_tiny_run(scratch);
  const std::string plan = check(run.config).out;
  const testing::TrainOutcome trained = testing::run_pretraining(run.config, {"train.max_steps=5"});
  // The trainer's model summary counts the parameters of the model it built.
  const size_t at = plan.find("model: ");
  ASSERT_NE(at, std::string::npos) << plan;
  const std::string count = plan.substr(at + 7, plan.find(' ', at + 7) - at - 7);
  EXPECT_THAT(trained.log, HasSubstr(count)) << plan;
}

TEST(Check, ClassificationConfigPrintsExamplesPerSplitAndClassBalance) {
  ScratchDir scratch;
  const fs::path config = testing::write_toy_finetune(scratch);
  const CliOutcome outcome = check(config);
  EXPECT_EQ(outcome.exit_code, kExitOk) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr(": fine-tuning (task classification) config; out_dir "));
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("data: 96 examples; split [0-9]+ train / [0-9]+ val / [0-9]+ test"));
  // 96 examples, half of each label, split 80/10/10 stratified by label.
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("class balance:\n  train: bad [0-9]+ \\(50.0%\\), good [0-9]+ "
                                                    "\\(50.0%\\)\n  val: bad [0-9]+ \\([0-9.]+%\\), good [0-9]+ "
                                                    "\\([0-9.]+%\\)\n  test: bad "));
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("model: [0-9]+ parameters \\([0-9]+ trainable\\)"));
  EXPECT_THAT(outcome.out, HasSubstr("batch: 8 examples per step (micro-batch 4, 2 accumulation steps); 30 steps = "));
  EXPECT_THAT(outcome.out, HasSubstr(" epochs of the training data; early stopping on val "));
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("compute: gemm (onednn|openblas|eigen), fp32\n"));
  EXPECT_THAT(outcome.out, HasSubstr("memory: estimated peak at least "));
  EXPECT_THAT(outcome.out, HasSubstr("ok: the run would start\n"));
  EXPECT_FALSE(fs::exists(scratch / "ft")) << "no split.json, tokenizer files or anything else in out_dir";
}

TEST(Check, ClassificationInWindowsSaysHowDocumentsAreReadAndCountsDocumentsAsTheExamples) {
  ScratchDir scratch;
  const fs::path config = testing::write_toy_finetune(scratch);
  const CliOutcome outcome = check(config, {"data.max_windows=3", "data.max_len=5"});
  EXPECT_EQ(outcome.exit_code, kExitOk) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("documents: read in up to 3 windows of at most 5 tokens (data.max_windows); a "
                                     "document's logits are the mean of its windows', so a micro-batch of 4 "
                                     "documents is up to 12 windows\n"));
  std::smatch counts;
  ASSERT_TRUE(std::regex_search(outcome.out, counts, std::regex("split ([0-9]+) train /"))) << outcome.out;
  // The epochs count documents: 30 steps x 8.
  EXPECT_THAT(outcome.out, HasSubstr("30 steps = " + format_double("%.2f", 240.0 / std::stoi(counts[1])) + " epochs"));
}

TEST(Check, ASetTaskMakesAFineTuningConfig) {
  ScratchDir scratch;
  testing::write_text(scratch / "pretrain.yaml", "out_dir: run\ndata: {train: corpus.txt}\n");
  testing::write_text(scratch / "finetune.yaml", "task: classification\nout_dir: run\n");
  EXPECT_EQ(config_kind((scratch / "pretrain.yaml").string(), {}), ConfigKind::kPretrain);
  EXPECT_EQ(config_kind((scratch / "finetune.yaml").string(), {}), ConfigKind::kFinetune);
  EXPECT_EQ(config_kind((scratch / "pretrain.yaml").string(), {"task=seq2seq"}), ConfigKind::kFinetune);
  EXPECT_EQ(config_kind((scratch / "missing.yaml").string(), {}), ConfigKind::kPretrain);
}

// The run would not start: exit 2, one error line naming the problem, nothing in out_dir.
void expect_refused(const CliOutcome& outcome, const std::string& message, const fs::path& out_dir) {
  EXPECT_EQ(outcome.exit_code, kExitBadInput) << outcome.out;
  EXPECT_THAT(outcome.err, ::testing::StartsWith("tapelm: error: "));
  EXPECT_THAT(outcome.err, HasSubstr(message));
  EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
  EXPECT_THAT(outcome.out, ::testing::Not(HasSubstr("ok: the run would start")));
  EXPECT_FALSE(fs::exists(out_dir));
}

TEST(Check, PretrainingRunsThatWouldNotStartExitTwo) {
  ScratchDir scratch;
  const testing::TinyRun run = testing::write_tiny_run(scratch);
  const std::string missing = (scratch / "missing.txt").string();
  expect_refused(check(run.config, {"data.train=" + missing}), missing, run.out_dir);
  expect_refused(check(run.config, {"data.val_fraction=0.002"}),
                 "data.val_fraction: the validation data has ", run.out_dir);
  expect_refused(check(run.config, {"model.n_layer=1000000000"}), run.config.string() + " needs at least ",
                 run.out_dir);
  expect_refused(check(run.config, {"train.batch_size=6"}), "train.micro_batch_size", run.out_dir);
  expect_refused(check(run.config, {"train.bogus=1"}), "train.bogus", run.out_dir);
}

TEST(Check, FineTuningRunsThatWouldNotStartExitTwo) {
  ScratchDir scratch;
  const fs::path config = testing::write_toy_finetune(scratch);
  const std::string missing = (scratch / "missing.jsonl").string();
  expect_refused(check(config, {"data.train=" + missing}), "data.train: ", scratch / "ft");
  expect_refused(check(config, {"model.n_layer=1000000000"}), config.string() + " needs at least ", scratch / "ft");
  expect_refused(check(config, {"eval.metric=bleu"}), "eval.metric: task classification has no metric 'bleu'",
                 scratch / "ft");
}

}  // namespace
}  // namespace tapelm
