// End-to-end tests of sharded evaluation and prediction: the BUILT `tapelm eval` and
// `tapelm predict` run on a tiny fine-tuned classification checkpoint under mpirun with 2
// ranks (the launcher command in TAPELM_TEST_MPIEXEC) print what one process prints — the
// same metrics (up to the order of the loss sums), the same report, the same prediction
// lines in input order — and rank 1 prints nothing. They run outside mpirun (each test
// launches its own jobs).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "job_helpers.h"
#include "tests/train/finetune_fixture.h"

namespace tapelm::testing {
namespace {

namespace fs = std::filesystem;

class FinetuneEvalJob : public LaunchedJobTest {
 protected:
  void SetUp() override {
    LaunchedJobTest::SetUp();
    if (IsSkipped()) return;
    const FinetuneOutcome outcome = run_finetuning(write_toy_finetune(dir_, 10));
    ASSERT_FALSE(outcome.result.checkpoint.empty()) << outcome.log;
    checkpoint_ = outcome.result.checkpoint;
    // 45 examples in eval batches of 16: rank 0 takes the first batch, rank 1 the other two.
    write_text(data_file(), toy_classification_jsonl(45));
  }

  fs::path data_file() const { return dir_ / "examples.jsonl"; }

  // `tapelm ARGS` on `ranks` processes under mpirun, or a plain run for ranks == 0; stdout only.
  Finished tapelm(int ranks, const std::string& args) const { return run_shell(tapelm_command(ranks, args)); }

  fs::path checkpoint_;
};

TEST_F(FinetuneEvalJob, TwoRanksEvaluateLikeOneProcessAndOnlyRankZeroPrints) {
  const std::string args = "eval --json --checkpoint " + checkpoint_.string() + " --data " + data_file().string();
  const Finished one = tapelm(0, args);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const Finished two = tapelm(2, args);
  ASSERT_EQ(two.exit_code, 0) << two.output;
  ASSERT_EQ(std::count(two.output.begin(), two.output.end(), '\n'), 1) << "one line, from rank 0:\n" << two.output;

  nlohmann::json expected = nlohmann::json::parse(one.output);
  nlohmann::json actual = nlohmann::json::parse(two.output);
  EXPECT_EQ(actual["examples"], 45);
  // accuracy, macro_f1, loss, and the baselines' accuracy and macro_f1 (rank 0 trains them).
  ASSERT_EQ(actual["metrics"].size(), 7u) << two.output;
  for (const auto& [name, value] : expected["metrics"].items()) {
    const double want = value.get<double>();
    EXPECT_NEAR(actual["metrics"][name].get<double>(), want, 1e-9 * std::abs(want)) << name;
  }
  // Everything else, the confusion matrix included, is the same text.
  expected.erase("metrics");
  actual.erase("metrics");
  EXPECT_EQ(actual, expected);
}

TEST_F(FinetuneEvalJob, TwoRanksPredictTheSameLinesInInputOrder) {
  const std::string args = "predict --checkpoint " + checkpoint_.string() + " --input " + data_file().string();
  const Finished one = tapelm(0, args);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  ASSERT_EQ(std::count(one.output.begin(), one.output.end(), '\n'), 45) << one.output;
  const Finished two = tapelm(2, args);
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_EQ(two.output, one.output);

  // With --output, rank 0 writes the file; nothing goes to stdout.
  const fs::path output = dir_ / "predictions.jsonl";
  const Finished to_file = tapelm(2, args + " --output " + output.string());
  ASSERT_EQ(to_file.exit_code, 0) << to_file.output;
  EXPECT_EQ(to_file.output, "");
  EXPECT_EQ(read_text(output), one.output);
}

TEST_F(FinetuneEvalJob, AnUnknownLabelInRankOnesShareEndsTheWholeJobWithExitStatusTwo) {
  // 16 good examples (rank 0's batch), then one whose label the model does not know (rank
  // 1's): rank 0 must not wait for rank 1's totals forever.
  write_text(dir_ / "bad.jsonl", toy_classification_jsonl(16) + "{\"text\": \"sunny\", \"label\": \"purple\"}\n");
  const Finished two = tapelm(2, "eval --checkpoint " + checkpoint_.string() + " --data " + (dir_ / "bad.jsonl").string() +
                                     " 2>&1");
  EXPECT_EQ(two.exit_code, 2) << two.output;
  EXPECT_NE(two.output.find("tapelm: error: rank 1: "), std::string::npos) << two.output;
  EXPECT_NE(two.output.find("purple"), std::string::npos) << two.output;
}

}  // namespace
}  // namespace tapelm::testing
