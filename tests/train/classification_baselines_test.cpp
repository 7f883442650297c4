// Classic baselines beside a classification model: `tapelm finetune` logs them with the test
// metrics, `tapelm eval --data` prints them, classification.baselines: false turns them off, and a run
// whose training data is gone gets one line saying so instead.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/train/finetune_fixture.h"
#include <tapelm/train/cli/cli.h>
#include <tapelm/train/loop/training_loop.h>
#include <tapelm/train/tasks/classification_baselines.h>

namespace tapelm {
namespace {

using testing::ScratchDir;

const char* const kBaselineKeys[] = {"baseline_tfidf_lr_accuracy", "baseline_tfidf_lr_macro_f1",
                                     "baseline_naive_bayes_accuracy", "baseline_naive_bayes_macro_f1"};

nlohmann::json last_record(const std::filesystem::path& metrics_file) {
  std::istringstream lines(testing::read_text(metrics_file));
  std::string line, last;
  while (std::getline(lines, line)) last = line;
  return nlohmann::json::parse(last);
}

// Separable by construction, like the toy training data.
std::string held_out_csv(const ScratchDir& scratch) {
  testing::write_text(scratch / "held.csv", "text,label\n\"sunny, warm\",good\nstormy cold,bad\ncalm gentle,good\n");
  return (scratch / "held.csv").string();
}

TEST(ClassificationBaselines, FinetuneLogsThemBesideTheTestMetrics) {
  ScratchDir scratch;
  const testing::FinetuneOutcome outcome = testing::run_finetuning(testing::write_toy_finetune(scratch, 10));
  const nlohmann::json test = last_record(scratch / "ft" / "metrics.jsonl");
  ASSERT_TRUE(test.contains("test_accuracy")) << test.dump();
  for (const char* key : kBaselineKeys) {
    const std::string name = std::string("test_") + key;
    ASSERT_TRUE(test.contains(name)) << test.dump();
    EXPECT_GE(test.at(name).get<double>(), 0.0) << name;
    EXPECT_LE(test.at(name).get<double>(), 1.0) << name;
  }
  // The toy classes share no word, so both baselines get every test example right.
  EXPECT_EQ(test.at("test_baseline_tfidf_lr_accuracy"), 1.0);
  EXPECT_EQ(test.at("test_baseline_naive_bayes_accuracy"), 1.0);
  const std::string report = testing::read_text(scratch / "ft" / "test_report.txt");
  EXPECT_NE(report.find("baselines on word 1-2-grams (trained on the "), std::string::npos) << report;
  EXPECT_NE(report.find("\n  tf-idf + logistic regression    1.0000    1.0000\n"), std::string::npos) << report;
  EXPECT_NE(report.find("\n  naive bayes                     1.0000    1.0000\n"), std::string::npos) << report;
  EXPECT_NE(outcome.log.find(report), std::string::npos) << outcome.log;
}

TEST(ClassificationBaselines, EvalDataPrintsThemBesideTheModel) {
  ScratchDir scratch;
  testing::run_finetuning(testing::write_toy_finetune(scratch, 10));
  const std::string best = best_checkpoint_dir(scratch / "ft").string();
  const std::string data = held_out_csv(scratch);
  const testing::CliOutcome eval = testing::run_cli_in_process({"eval", "--checkpoint", best, "--data", data});
  ASSERT_EQ(eval.exit_code, kExitOk) << eval.out << eval.err;
  EXPECT_NE(eval.out.find("scored on the same 3):\n"), std::string::npos) << eval.out;
  EXPECT_NE(eval.out.find("\n  model         "), std::string::npos) << eval.out;
  EXPECT_NE(eval.out.find("\n  tf-idf + logistic regression    1.0000    1.0000\n"), std::string::npos) << eval.out;
  EXPECT_NE(eval.out.find("\n  naive bayes                     1.0000    1.0000\n"), std::string::npos) << eval.out;

  const testing::CliOutcome json =
      testing::run_cli_in_process({"eval", "--checkpoint", best, "--data", data, "--json"});
  ASSERT_EQ(json.exit_code, kExitOk) << json.err;
  const nlohmann::json metrics = nlohmann::json::parse(json.out).at("metrics");
  for (const char* key : kBaselineKeys) EXPECT_EQ(metrics.at(key), 1.0) << key;
  EXPECT_EQ(nlohmann::json::parse(json.out).at("baseline_features"), "word 1-2-grams");
}

TEST(ClassificationBaselines, ClassificationBaselinesFalseTurnsThemOff) {
  ScratchDir scratch;
  testing::run_finetuning(testing::write_toy_finetune(scratch, 10), {"classification.baselines=false"});
  const nlohmann::json test = last_record(scratch / "ft" / "metrics.jsonl");
  ASSERT_TRUE(test.contains("test_accuracy")) << test.dump();
  for (const char* key : kBaselineKeys) EXPECT_FALSE(test.contains(std::string("test_") + key)) << test.dump();
  EXPECT_EQ(testing::read_text(scratch / "ft" / "test_report.txt").find("baselines"), std::string::npos);

  const std::string best = best_checkpoint_dir(scratch / "ft").string();
  const testing::CliOutcome eval =
      testing::run_cli_in_process({"eval", "--checkpoint", best, "--data", held_out_csv(scratch)});
  ASSERT_EQ(eval.exit_code, kExitOk) << eval.out << eval.err;
  EXPECT_EQ(eval.out.find("baselines"), std::string::npos) << eval.out;
}

TEST(ClassificationBaselines, EvalDataSaysInOneLineWhyTheyAreSkippedWhenTheTrainingDataIsGone) {
  ScratchDir scratch;
  testing::run_finetuning(testing::write_toy_finetune(scratch, 10));
  std::filesystem::remove(scratch / "toy.jsonl");
  const std::string best = best_checkpoint_dir(scratch / "ft").string();
  const testing::CliOutcome eval =
      testing::run_cli_in_process({"eval", "--checkpoint", best, "--data", held_out_csv(scratch)});
  ASSERT_EQ(eval.exit_code, kExitOk) << eval.out << eval.err;
  EXPECT_NE(eval.out.find("\nbaselines: skipped, the run's training data cannot be read: data.train: "),
            std::string::npos)
      << eval.out;
  EXPECT_NE(eval.out.find("toy.jsonl"), std::string::npos) << eval.out;
  EXPECT_EQ(eval.out.find("tf-idf"), std::string::npos) << eval.out;
}

TEST(ClassificationBaselines, ALabelFoundOnlyAmongTheScoredExamplesIsNeverPredicted) {
  const std::vector<LabeledExample> train = {{"sunny warm day", "good", "", "t:1"}, {"sunny calm sky", "good", "", "t:2"},
                                             {"stormy cold night", "bad", "", "t:3"},
                                             {"stormy dark sky", "bad", "", "t:4"}};
  const std::vector<LabeledExample> scored = {{"warm sunny", "good", "", "s:1"}, {"cold stormy", "bad", "", "s:2"},
                                              {"sunny stormy", "mixed", "", "s:3"}};
  TaskEvaluation evaluation;
  evaluation.metrics = {{"accuracy", 0.5}, {"macro_f1", 0.25}};
  add_classification_baselines(evaluation, "auto", train, {0, 1, 2, 3}, scored, {0, 1, 2});
  ASSERT_EQ(evaluation.baselines.size(), 4u);
  EXPECT_EQ(evaluation.baselines[0].first, "baseline_tfidf_lr_accuracy");
  EXPECT_DOUBLE_EQ(evaluation.baselines[0].second, 2.0 / 3.0);
  EXPECT_EQ(evaluation.baselines[2].first, "baseline_naive_bayes_accuracy");
  EXPECT_DOUBLE_EQ(evaluation.baselines[2].second, 2.0 / 3.0);
  EXPECT_NE(evaluation.report.find("  model                           0.5000    0.2500\n"), std::string::npos)
      << evaluation.report;
}

TEST(ClassificationBaselines, AutoCountsCharactersOfNamesAndWordsOfSentences) {
  const std::vector<LabeledExample> names = {{"Anna", "f", "", "n:1"},  {"Maria", "f", "", "n:2"},
                                             {"Julia", "f", "", "n:3"}, {"Mario", "m", "", "n:4"},
                                             {"Bruno", "m", "", "n:5"}, {"Paolo", "m", "", "n:6"}};
  const std::vector<LabeledExample> sentences = {{"a sunny warm day", "good", "", "t:1"},
                                                 {"sunny calm sky today", "good", "", "t:2"},
                                                 {"a stormy cold night", "bad", "", "t:3"},
                                                 {"stormy dark sky tonight", "bad", "", "t:4"}};
  const auto features_of = [](const std::vector<LabeledExample>& examples, const std::string& choice) {
    TaskEvaluation evaluation;
    evaluation.metrics = {{"accuracy", 0.5}, {"macro_f1", 0.5}};
    std::vector<size_t> all(examples.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    add_classification_baselines(evaluation, choice, examples, all, examples, all);
    EXPECT_NE(evaluation.report.find("baselines on " + evaluation.baseline_features + " (trained on the "),
              std::string::npos)
        << evaluation.report;
    return evaluation.baseline_features;
  };
  EXPECT_EQ(features_of(names, "auto"), "char 1-4-grams");
  EXPECT_EQ(features_of(names, "true"), "char 1-4-grams");  // true, the key's old value, is auto
  EXPECT_EQ(features_of(names, "words"), "word 1-2-grams");
  EXPECT_EQ(features_of(sentences, "auto"), "word 1-2-grams");
  EXPECT_EQ(features_of(sentences, "chars"), "char 1-4-grams");
}

TEST(ClassificationBaselines, ClassificationBaselinesNoneTurnsThemOffAndOtherValuesAreRefused) {
  FinetuneConfig config;
  config.classification.baselines = "none";
  EXPECT_FALSE(wants_classification_baselines(config));
  config.classification.baselines = "chars";
  EXPECT_TRUE(wants_classification_baselines(config));
  ScratchDir scratch;
  const testing::CliOutcome outcome = testing::run_cli_in_process(
      {"finetune", testing::write_toy_finetune(scratch, 10).string(), "--set", "classification.baselines=letters"});
  EXPECT_EQ(outcome.exit_code, kExitBadInput) << outcome.err;
  EXPECT_NE(outcome.err.find("classification.baselines"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find("auto, words, chars, none"), std::string::npos) << outcome.err;
}

}  // namespace
}  // namespace tapelm
