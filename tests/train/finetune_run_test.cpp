// The fine-tuning loop's guarantees: resuming is bitwise exact, early stopping stops after
// `patience` evaluations without improvement, the best checkpoint holds the best step, and
// a stop request writes a resumable checkpoint.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/train/finetune_fixture.h"
#include "tests/train/tiny_run.h"
#include <tapelm/train/checkpoint/average_checkpoints.h>
#include <tapelm/train/checkpoint/resume.h>
#include <tapelm/train/checkpoint/trainer_state.h>
#include <tapelm/train/checkpoint/finetune_checkpoint.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace {

using testing::ScratchDir;

// step → the record's text without its timing field, for train and val records.
std::map<std::string, std::string> records_by_step(const std::filesystem::path& out_dir) {
  std::map<std::string, std::string> records;
  for (nlohmann::json record : testing::read_metrics(out_dir)) {
    record.erase("examples_per_s");
    const std::string kind = record.contains("loss") ? "train" : record.contains("val_accuracy") ? "val" : "test";
    records[kind + std::to_string(record["step"].get<int64_t>())] = record.dump();
  }
  return records;
}

void expect_resume_is_exact(const std::vector<std::string>& overrides) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 20);
  const std::filesystem::path a = scratch / "a", b = scratch / "b";
  std::vector<std::string> to_a = overrides, to_b = overrides;
  to_a.push_back("out_dir=" + (a / "ft").string());
  to_b.push_back("out_dir=" + (b / "ft").string());
  testing::run_finetuning(config, to_a);
  // Stopped after 7 of 20 steps (dropout is on, so its masks must follow the step; the
  // shuffler is mid-epoch), then resumed.
  const testing::FinetuneOutcome first = testing::run_finetuning(config, to_b, false, /*stop_after_polls=*/7);
  ASSERT_TRUE(first.result.stopped) << first.log;
  ASSERT_EQ(first.result.step, 7);
  const testing::FinetuneOutcome second = testing::run_finetuning(config, to_b, true);
  ASSERT_EQ(second.result.step, 20) << second.log;

  const std::filesystem::path final_a = testing::checkpoint_path(a / "ft", 20);
  const std::filesystem::path final_b = testing::checkpoint_path(b / "ft", 20);
  EXPECT_TRUE(testing::same_bytes(final_a / kWeightsFile, final_b / kWeightsFile));
  EXPECT_TRUE(testing::same_bytes(final_a / kOptimizerFile, final_b / kOptimizerFile));
  EXPECT_TRUE(testing::same_bytes(final_a / kTrainerStateFile, final_b / kTrainerStateFile));
  EXPECT_TRUE(testing::same_bytes(a / "ft" / "split.json", b / "ft" / "split.json"));
  EXPECT_EQ(records_by_step(a / "ft"), records_by_step(b / "ft"));
}

TEST(FinetuneRun, ResumedRunMatchesTheUninterruptedOneBitForBit) { expect_resume_is_exact({}); }

TEST(FinetuneRun, ResumeIsExactWithLengthGroupedBatchesAndLabelSmoothing) {
  expect_resume_is_exact({"data.group_by_length=true", "train.label_smoothing=0.1"});
}

TEST(FinetuneRun, ResumeIsExactWithClassWeights) {
  expect_resume_is_exact({"classification.class_weights={good: 3}"});
  expect_resume_is_exact({"classification.class_weights=auto"});
}

TEST(FinetuneRun, ResumeIsExactWhenDocumentsAreReadInWindows) {
  // max_len 5: the toy's texts of 3 to 6 words make 1 to 3 windows of 4 tokens.
  expect_resume_is_exact({"data.max_windows=3", "data.max_len=5"});
  expect_resume_is_exact({"data.max_windows=3", "data.max_len=5", "data.group_by_length=true"});
}

TEST(FinetuneRun, ResumeRefusesAnotherWindowingOfTheDocumentsNamingTheKeyAndBothValues) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 20);
  const std::vector<std::string> windows = {"data.max_windows=3", "data.max_len=5"};
  ASSERT_TRUE(testing::run_finetuning(config, windows, false, /*stop_after_polls=*/7).result.stopped);
  const std::string config_yaml = testing::read_text(scratch / "ft" / "config.yaml");
  const auto resume = [&](const std::string& max_windows, const std::string& max_len) {
    return testing::run_cli_in_process({"finetune", config.string(), "--set", "data.max_windows=" + max_windows,
                                        "--set", "data.max_len=" + max_len, "--resume"});
  };
  const std::string checkpoint = testing::checkpoint_path(scratch / "ft", 7).string();

  testing::CliOutcome outcome = resume("1", "5");
  EXPECT_EQ(outcome.exit_code, kExitBadInput);
  EXPECT_NE(outcome.err.find("--resume " + checkpoint + ": how documents are read in windows cannot change when resuming; "
                             "data.max_windows is 3 in the checkpoint but 1 now"),
            std::string::npos)
      << outcome.err;
  outcome = resume("3", "6");
  EXPECT_EQ(outcome.exit_code, kExitBadInput);
  EXPECT_NE(outcome.err.find("; data.max_len is 5 in the checkpoint but 6 now"), std::string::npos) << outcome.err;
  EXPECT_EQ(testing::read_text(scratch / "ft" / "config.yaml"), config_yaml) << "a refused resume changes nothing";
  EXPECT_FALSE(std::filesystem::exists(scratch / "ft" / "abandoned"));

  outcome = resume("3", "5");
  EXPECT_EQ(outcome.exit_code, kExitOk) << outcome.err;
}

TEST(FinetuneRun, ProgressIsABarRedrawnInPlaceWhenAProgressStreamIsGiven) {
  ScratchDir scratch;
  const FinetuneRun run = prepare_finetune(testing::finetune_args(testing::write_toy_finetune(scratch, 10)));
  std::ostringstream log, bar;
  TrainerOptions options;
  options.log = &log;
  options.progress_bar = &bar;
  finetune(run, options);
  EXPECT_EQ(bar.str().rfind("\r[", 0), 0u) << bar.str();
  EXPECT_NE(bar.str().find("\r[####################] step 10/10 | loss "), std::string::npos) << bar.str();
  EXPECT_NE(bar.str().find(" ex/s | ETA "), std::string::npos) << bar.str();
  // The bar replaces the periodic log lines; evaluations and checkpoints stay in the log.
  EXPECT_EQ(log.str().find("step 5/10 |"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("step 10: val accuracy"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("checkpoint: "), std::string::npos) << log.str();
}

TEST(FinetuneRun, ProgressIsPlainLogLinesWithoutAProgressStream) {
  ScratchDir scratch;
  const testing::FinetuneOutcome outcome = testing::run_finetuning(testing::write_toy_finetune(scratch, 10));
  EXPECT_NE(outcome.log.find("\nstep 5/10 | loss "), std::string::npos) << outcome.log;
  EXPECT_NE(outcome.log.find(" ex/s | ETA "), std::string::npos) << outcome.log;
  EXPECT_EQ(outcome.log.find('\r'), std::string::npos) << outcome.log;
}

TEST(FinetuneRun, EarlyStoppingEndsAfterPatienceEvaluationsWithoutImprovement) {
  ScratchDir scratch;
  // Accuracy on the toy set reaches 1 early and cannot improve on it afterwards.
  const testing::FinetuneOutcome outcome = testing::run_finetuning(
      testing::write_toy_finetune(scratch, 200), {"eval.interval=5", "eval.patience=2", "eval.metric=accuracy"});
  ASSERT_TRUE(outcome.result.early_stopped) << outcome.log;
  EXPECT_LT(outcome.result.step, 200);
  EXPECT_NE(outcome.log.find("early stopping: no better val accuracy in 2 evaluations"), std::string::npos)
      << outcome.log;

  // The best checkpoint is the step the best accuracy was first reached, 2 evaluations
  // before the stop; its state records it.
  const Checkpoint best = locate_checkpoint(best_checkpoint_dir(scratch / "ft"));
  const TrainerState state = checkpoint_trainer_state(best);
  EXPECT_EQ(best.step, outcome.result.step - 10);
  EXPECT_EQ(state.best_step, best.step);
  ASSERT_TRUE(state.best_metric.has_value());
  double best_seen = 0;
  for (const nlohmann::json& record : testing::read_metrics(scratch / "ft")) {
    if (record.contains("val_accuracy")) best_seen = std::max(best_seen, record["val_accuracy"].get<double>());
  }
  EXPECT_EQ(*state.best_metric, best_seen);
  // Only one best checkpoint is kept; the final one is written at the stop.
  EXPECT_EQ(list_checkpoint_dirs(best_checkpoint_dir(scratch / "ft")).size(), 1u);
  EXPECT_EQ(list_checkpoint_dirs(scratch / "ft").back().step, outcome.result.step);

  // Resuming an early-stopped run trains no further.
  const testing::FinetuneOutcome again = testing::run_finetuning(testing::write_toy_finetune(scratch, 200),
                                                                 {"eval.interval=5", "eval.patience=2",
                                                                  "eval.metric=accuracy"},
                                                                 true);
  EXPECT_EQ(again.result.step, outcome.result.step);
  EXPECT_NE(again.log.find("nothing to do"), std::string::npos) << again.log;
}

TEST(FinetuneRun, UnknownEvalMetricIsAConfigErrorListingTheTaskMetrics) {
  ScratchDir scratch;
  try {
    testing::run_finetuning(testing::write_toy_finetune(scratch, 5), {"eval.metric=acuracy"});
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("did you mean 'accuracy'"), std::string::npos) << message;
    EXPECT_NE(message.find("accuracy, macro_f1, loss"), std::string::npos) << message;
  }
}

TEST(FinetuneRun, RefusesAnOutDirWithCheckpointsUnlessResuming) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 10);
  testing::run_finetuning(config);
  EXPECT_THROW(testing::run_finetuning(config), InputError);
}

TEST(FinetuneRun, ARefusedResumeLeavesConfigYamlByteIdentical) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 10);
  testing::run_finetuning(config);
  const std::string config_yaml = testing::read_text(scratch / "ft/config.yaml");
  EXPECT_THROW(testing::run_finetuning(config, {"model.n_layer=3", "train.max_steps=12"}, true), ConfigError);
  EXPECT_EQ(testing::read_text(scratch / "ft/config.yaml"), config_yaml);
}

TEST(FinetuneRun, RefusesAnOutDirAnotherRunIsUsing) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 10);
  const RunLock other(scratch / "ft");
  try {
    testing::run_finetuning(config);
    ADD_FAILURE() << "the run started in a locked out_dir";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("another run (pid " + std::to_string(::getpid()) + ")"), std::string::npos)
        << e.what();
  }
}

TEST(FinetuneRun, ANewRunSetsAsideTheBestCheckpointAnEarlierRunLeftAndTestsItsOwnBest) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 20);
  const std::filesystem::path out_dir = scratch / "ft";
  // An earlier run whose periodic checkpoints are gone (it diverged before its first one, say)
  // but whose best checkpoint, at a later step than the next run reaches, is still there.
  testing::run_finetuning(config, {"eval.interval=5", "eval.metric=loss"});
  std::filesystem::remove_all(checkpoints_dir(out_dir));
  const std::vector<CheckpointDir> earlier = list_checkpoint_dirs(best_checkpoint_dir(out_dir));
  ASSERT_EQ(earlier.size(), 1u);
  ASSERT_GT(earlier[0].step, 5);

  const testing::FinetuneOutcome next = testing::run_finetuning(config, {"train.max_steps=5", "eval.interval=5", "eval.metric=loss"});
  EXPECT_EQ(next.result.best, checkpoints_dir(best_checkpoint_dir(out_dir)) / checkpoint_dir_name(5)) << next.log;
  EXPECT_NE(next.log.find("test split (10 examples), the best checkpoint " + next.result.best.string()),
            std::string::npos)
      << next.log;
  const std::string aside = "best-" + checkpoint_dir_name(earlier[0].step);
  EXPECT_NE(next.log.find(aside + " was left by an earlier run (valid); set aside as"), std::string::npos) << next.log;
  EXPECT_NO_THROW(verify_checkpoint(abandoned_dir(out_dir) / aside)) << "nothing the earlier run saved is lost";
  EXPECT_EQ(list_checkpoint_dirs(best_checkpoint_dir(out_dir)).size(), 1u);
}

// Runs the toy task for 40 steps with checkpoint.average_last 3 and checks the average against
// the model the test split would score without it: the best checkpoint, or with keep_best off
// the final model. Whichever wins on the validation split is the one the test split scored.
void expect_the_validation_winner_is_tested(bool keep_best) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 40);  // checkpoints every 10 steps
  const std::filesystem::path test_file = scratch / "test.jsonl";
  testing::write_text(test_file, testing::toy_classification_jsonl(24));
  const testing::FinetuneOutcome outcome =
      testing::run_finetuning(config, {"checkpoint.average_last=3", "eval.metric=loss", "data.test=" + test_file.string(),
                                       std::string("checkpoint.keep_best=") + (keep_best ? "true" : "false")});

  const std::filesystem::path average = scratch / "ft" / "average" / "checkpoints" / "step_00000040";
  EXPECT_EQ(outcome.result.average, average);
  const nlohmann::json inputs = nlohmann::json::parse(testing::read_text(average / kAverageFile))["checkpoints"];
  ASSERT_EQ(inputs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(inputs[i]["step"], 20 + 10 * int(i));
  EXPECT_NE(outcome.log.find("average of 3 checkpoints (steps 20, 30, 40): val "), std::string::npos) << outcome.log;

  std::optional<double> average_val_loss, best_val_loss, last_val_loss, test_loss;
  for (const nlohmann::json& record : testing::read_metrics(scratch / "ft")) {
    if (record.contains("average_val_loss")) average_val_loss = record["average_val_loss"].get<double>();
    if (record.contains("val_loss")) {
      last_val_loss = record["val_loss"].get<double>();
      best_val_loss = std::min(best_val_loss.value_or(*last_val_loss), *last_val_loss);
    }
    if (record.contains("test_loss")) test_loss = record["test_loss"].get<double>();
  }
  ASSERT_TRUE(average_val_loss && last_val_loss && test_loss);
  const bool wins = *average_val_loss < (keep_best ? *best_val_loss : *last_val_loss);
  EXPECT_NE(outcome.log.find(std::string(wins ? "; better than " : "; not better than ") +
                             (keep_best ? "the best checkpoint's loss" : "the final model's loss")),
            std::string::npos)
      << outcome.log;
  const std::filesystem::path tested =
      wins ? average : keep_best ? outcome.result.best : outcome.result.checkpoint;
  EXPECT_NE(outcome.log.find(wins ? "the average of the checkpoints of steps 20, 30, 40 " + average.string()
                             : keep_best ? "the best checkpoint " + outcome.result.best.string()
                                         : "the final model (checkpoint.keep_best is off)"),
            std::string::npos)
      << outcome.log;
  const testing::CliOutcome eval =
      testing::run_cli_in_process({"eval", "--checkpoint", tested.string(), "--data", test_file.string(), "--json"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NEAR(nlohmann::json::parse(eval.out)["metrics"]["loss"].get<double>(), *test_loss, 1e-6) << tested;

  // A new run in the same out_dir sets this run's average aside.
  std::filesystem::remove_all(checkpoints_dir(scratch / "ft"));
  const testing::FinetuneOutcome next = testing::run_finetuning(config, {"train.max_steps=5"});
  EXPECT_NE(next.log.find("average-step_00000040 was left by an earlier run (valid); set aside as"), std::string::npos)
      << next.log;
  EXPECT_TRUE(list_checkpoint_dirs(scratch / "ft" / "average").empty());
}

TEST(FinetuneRun, AverageOfTheLastCheckpointsIsTestedWhenItBeatsTheBestCheckpointOnValidation) {
  expect_the_validation_winner_is_tested(/*keep_best=*/true);
}

TEST(FinetuneRun, AverageOfTheLastCheckpointsIsTestedWhenItBeatsTheFinalModelWithoutABestCheckpoint) {
  expect_the_validation_winner_is_tested(/*keep_best=*/false);
}

TEST(FinetuneRun, AResumeWithoutAveragingSaysTheAverageLeftBeforeItIsOlderThanItsWeights) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 20);  // checkpoints every 10 steps
  testing::run_finetuning(config, {"checkpoint.average_last=2"});
  const std::filesystem::path average = scratch / "ft" / "average" / "checkpoints" / "step_00000020";
  ASSERT_NO_THROW(verify_checkpoint(average));

  const testing::FinetuneOutcome resumed = testing::run_finetuning(config, {"train.max_steps=30"}, /*resume=*/true);
  EXPECT_NE(resumed.log.find("note: " + average.string() + " is the average of checkpoints up to step 20, written "
                             "before this resume; checkpoint.average_last is 0, so it was not updated"),
            std::string::npos)
      << resumed.log;
  EXPECT_NO_THROW(verify_checkpoint(average)) << "nothing a run saved is lost";

  const testing::FinetuneOutcome again = testing::run_finetuning(config, {"train.max_steps=30"}, /*resume=*/true);
  EXPECT_NE(again.log.find("note: " + average.string()), std::string::npos) << "still older than the weights";
  const testing::FinetuneOutcome averaged =
      testing::run_finetuning(config, {"train.max_steps=30", "checkpoint.average_last=2"}, /*resume=*/true);
  EXPECT_EQ(averaged.log.find("note: "), std::string::npos) << averaged.log;
}

TEST(FinetuneRun, AverageLastMustBeTwoOrMoreAndKeptByKeepLast) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 20);
  for (const auto& [overrides, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"checkpoint.average_last=1"}, "checkpoint.average_last: must be 0 (off) or >= 2"},
           {{"checkpoint.average_last=4", "checkpoint.keep_last=3"},
            "checkpoint.average_last: averages more checkpoints than checkpoint.keep_last (3) keeps, got 4"}}) {
    try {
      testing::run_finetuning(config, overrides);
      ADD_FAILURE() << "accepted " << overrides.front();
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tapelm
