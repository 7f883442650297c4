// train.ema_decay in the training loop, on a task whose model is one vector drifting at a
// constant rate under SGD: evaluations, the best checkpoint and the test split see the
// exponential moving average of the weights, training the weights themselves, and the
// checkpoint holds both.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include <tapelm/nn/safetensors.h>
#include <tapelm/optim/ema.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>
#include <tapelm/train/loop/training_loop.h>

#include "scratch_dir.h"
#include "tests/train/drift_task.h"
#include "tests/train/tiny_run.h"

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using testing::drift_config;
using testing::DriftTask;
using testing::logging_to;
using testing::ScratchDir;

// The average after each of `steps` steps by the formula of optim/ema.h, in double.
std::vector<std::vector<double>> hand_averages(const std::vector<std::vector<float>>& seen, const std::vector<float>& last,
                                               double decay) {
  std::vector<double> average = {seen[0][0], seen[0][1]};
  std::vector<std::vector<double>> averages;
  for (size_t step = 0; step < seen.size(); ++step) {
    const std::vector<float>& w = step + 1 < seen.size() ? seen[step + 1] : last;
    const double d = std::min(decay, (1.0 + double(step)) / (10.0 + double(step)));
    for (int k = 0; k < 2; ++k) average[size_t(k)] = d * average[size_t(k)] + (1 - d) * w[size_t(k)];
    averages.push_back(average);
  }
  return averages;
}

float tensor_value(const fs::path& file, const std::string& name, int64_t i) {
  return load_safetensors(file.string()).tensors.at(name).data()[i];
}

TEST(EmaLoop, EvaluationsBestCheckpointAndTestSeeTheAverageWhileTrainingUsesTheWeights) {
  ScratchDir scratch;
  DriftTask task;
  std::ostringstream log;
  const TrainResult result = train(task, drift_config(scratch / "run", 0.5), std::nullopt, logging_to(log));
  EXPECT_NE(log.str().find("evaluating the EMA of the weights, decay 0.5\n"), std::string::npos) << log.str();

  ASSERT_EQ(task.weights_seen.size(), 12u);
  EXPECT_NEAR(task.weights_seen[11][0], 1.0 - 11 * 0.1, 1e-6) << "training moved the weights themselves";
  const Checkpoint last = verify_checkpoint(testing::checkpoint_path(scratch / "run", 12));
  const std::vector<float> final_w = {tensor_value(last.file(kTrainWeightsFile), "w", 0),
                                      tensor_value(last.file(kTrainWeightsFile), "w", 1)};
  EXPECT_NEAR(final_w[0], 1.0 - 12 * 0.1, 1e-6);
  const auto averages = hand_averages(task.weights_seen, final_w, 0.5);

  std::vector<double> val_w0;
  for (const nlohmann::json& record : testing::read_metrics(scratch / "run")) {
    if (record.contains("val_w0")) val_w0.push_back(record["val_w0"].get<double>());
  }
  ASSERT_EQ(val_w0.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(val_w0[size_t(i)], averages[size_t(4 * i + 3)][0], 1e-6) << "step " << 4 * (i + 1);
  ASSERT_TRUE(result.evaluation);
  EXPECT_NEAR(result.evaluation->metric("w1"), averages[11][1], 1e-6);
  EXPECT_GT(std::abs(averages[11][0] - final_w[0]), 0.05) << "the average lags the weights";

  EXPECT_NEAR(tensor_value(last.file(kWeightsFile), "w", 0), averages[11][0], 1e-6);
  EXPECT_EQ(tensor_value(last.file(kWeightsFile), "frozen", 0), 0.5f);
  EXPECT_EQ(load_safetensors(last.file(kWeightsFile).string()).metadata.at("ema_decay"), "0.5");
  ASSERT_TRUE(result.test);  // the best checkpoint (w0 falls, so step 12) holds the average
  EXPECT_NEAR(result.test->metric("w0"), averages[11][0], 1e-6);
}

TEST(EmaLoop, WithoutABestCheckpointTheTestReportNamesTheAverageItEvaluates) {
  ScratchDir scratch;
  DriftTask averaged, plain;
  std::ostringstream log;
  LoopConfig config = drift_config(scratch / "ema", 0.5);
  config.checkpoint.keep_best = false;
  const TrainResult result = train(averaged, config, std::nullopt, logging_to(log));
  const Checkpoint last = verify_checkpoint(testing::checkpoint_path(scratch / "ema", 12));
  ASSERT_TRUE(result.test);
  EXPECT_NEAR(result.test->metric("w0"), tensor_value(last.file(kWeightsFile), "w", 0), 1e-6)
      << "the test split sees the average";
  EXPECT_EQ(testing::read_text(scratch / "ema" / "test_report.txt")
                .rfind("test split (1 examples), the final model's EMA weights (train.ema_decay 0.5; "
                       "checkpoint.keep_best is off):\n",
                       0),
            0u)
      << testing::read_text(scratch / "ema" / "test_report.txt");

  config = drift_config(scratch / "plain", 0);
  config.checkpoint.keep_best = false;
  train(plain, config, std::nullopt, logging_to(log));
  EXPECT_EQ(testing::read_text(scratch / "plain" / "test_report.txt")
                .rfind("test split (1 examples), the final model (checkpoint.keep_best is off):\n", 0),
            0u)
      << testing::read_text(scratch / "plain" / "test_report.txt");
}

TEST(EmaLoop, DecayZeroWritesNoSecondWeightsFileAndTrainsTheSameWeights) {
  ScratchDir scratch;
  DriftTask plain, averaged;
  std::ostringstream log;
  train(plain, drift_config(scratch / "plain", 0), std::nullopt, logging_to(log));
  EXPECT_EQ(log.str().find("EMA"), std::string::npos) << log.str();
  train(averaged, drift_config(scratch / "ema", 0.9), std::nullopt, logging_to(log));
  EXPECT_EQ(plain.weights_seen, averaged.weights_seen);
  const Checkpoint a = verify_checkpoint(testing::checkpoint_path(scratch / "plain", 12));
  const Checkpoint b = verify_checkpoint(testing::checkpoint_path(scratch / "ema", 12));
  EXPECT_FALSE(a.has(kTrainWeightsFile));
  EXPECT_TRUE(testing::same_bytes(a.file(kWeightsFile), b.file(kTrainWeightsFile)));
  EXPECT_FALSE(testing::same_bytes(a.file(kWeightsFile), b.file(kWeightsFile)));
}

// checkpoint.average_last averages what the checkpoints call the model, the moving averages,
// and validates that; here the drift makes older weights worse, so it loses to the final
// average, the trained weights are given back and the test split sees the final average.
TEST(EmaLoop, AnAverageOfCheckpointsIsTheMeanOfTheirMovingAveragesNotOfTheTrainedWeights) {
  ScratchDir scratch;
  DriftTask task;
  std::ostringstream log;
  LoopConfig config = drift_config(scratch / "run", 0.5);
  config.checkpoint.average_last = 2;
  config.checkpoint.keep_best = false;
  const TrainResult result = train(task, config, std::nullopt, logging_to(log));
  const Checkpoint at8 = verify_checkpoint(testing::checkpoint_path(scratch / "run", 8));
  const Checkpoint at12 = verify_checkpoint(testing::checkpoint_path(scratch / "run", 12));

  ASSERT_EQ(result.average, checkpoints_dir(average_checkpoint_dir(scratch / "run")) / checkpoint_dir_name(12))
      << log.str();
  const fs::path average = verify_checkpoint(result.average).file(kWeightsFile);
  // w[i] averaged over the two checkpoints' `file`.
  const auto mean_of = [&](const char* file, int64_t i) {
    return (double(tensor_value(at8.file(file), "w", i)) + tensor_value(at12.file(file), "w", i)) / 2;
  };
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(tensor_value(average, "w", i), mean_of(kWeightsFile, i), 1e-6) << "w[" << i << "]";
    EXPECT_GT(std::abs(tensor_value(average, "w", i) - mean_of(kTrainWeightsFile, i)), 0.05)
        << "not the mean of the trained weights";
  }
  std::optional<double> average_val_w0;
  for (const nlohmann::json& record : testing::read_metrics(scratch / "run")) {
    if (record.contains("average_val_w0")) average_val_w0 = record["average_val_w0"].get<double>();
  }
  ASSERT_TRUE(average_val_w0) << log.str();
  EXPECT_NEAR(*average_val_w0, tensor_value(average, "w", 0), 1e-6);
  EXPECT_NE(log.str().find("; not better than the final model's w0 "), std::string::npos) << log.str();

  ASSERT_TRUE(result.test);
  EXPECT_NEAR(result.test->metric("w0"), tensor_value(at12.file(kWeightsFile), "w", 0), 1e-6)
      << "the test split sees the final moving average";
  EXPECT_NEAR(task.model().named_parameters()[0].second.data()[0], tensor_value(at12.file(kTrainWeightsFile), "w", 0),
              1e-6)
      << "the losing average gave the trained weights back";
}

}  // namespace
}  // namespace tapelm
