// Tests for averaging checkpoints' weights (train/checkpoint/average_checkpoints.h): the mean
// itself, what the averaged checkpoint holds, and the inputs and output directories refused.
#include <tapelm/train/checkpoint/average_checkpoints.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <tapelm/data/atomic_file.h>
#include <tapelm/nn/safetensors.h>
#include <tapelm/train/checkpoint/trainer_state.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>
#include "crash_testing.h"
#include "expect_error.h"
#include "scratch_dir.h"

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::read_text;
using testing::ScratchDir;
using testing::write_text;

// A checkpoint of `run` at `step` as a training run writes it: weights "w" [2, 3] and "b" [4]
// from `values` (10 numbers), optimizer and trainer state, config.yaml naming the step (and
// holding `model`), and a tokenizer.
Checkpoint write_run_checkpoint(const fs::path& run, int64_t step, const std::vector<float>& values,
                                const std::string& tokenizer = "tokenizer bytes", Shape w_shape = {2, 3},
                                const std::string& model = "") {
  const NamedTensors weights = {
      {"w", Tensor::from_vector(w_shape, std::vector<float>(values.begin(), values.begin() + 6))},
      {"b", Tensor::from_vector({4}, std::vector<float>(values.begin() + 6, values.end()))}};
  return write_checkpoint(
      run, step,
      {CheckpointFile{kWeightsFile, [weights](const fs::path& path) { save_safetensors(path.string(), weights); }},
       CheckpointFile::from_bytes(kOptimizerFile, "moments"),
       CheckpointFile::from_bytes(kTrainerStateFile, "{}"),
       CheckpointFile::from_bytes(kConfigFile, "seed: " + std::to_string(step) + "\n" + model),
       CheckpointFile::from_bytes(kTokenizerFile, tokenizer)});
}

std::vector<float> sequence(float start, float step) {
  std::vector<float> values;
  for (int i = 0; i < 10; ++i) values.push_back(start + step * float(i));
  return values;
}

TEST(AverageCheckpoints, WeightsAreTheMeanOfTheInputsComputedInDoublePrecision) {
  ScratchDir scratch;
  const std::vector<std::vector<float>> values = {sequence(0.1f, 1.0f), sequence(-3.0f, 0.7f), sequence(1e-3f, 2.5f)};
  std::vector<Checkpoint> inputs;
  for (int i = 0; i < 3; ++i) inputs.push_back(write_run_checkpoint(scratch / "run", 100 * (i + 1), values[i]));

  const Checkpoint averaged = average_checkpoints(inputs, scratch / "avg");

  const SafetensorsContents contents = load_safetensors(averaged.file(kWeightsFile).string());
  ASSERT_EQ(contents.tensors.size(), 2u);
  EXPECT_EQ(contents.tensors.at("w").shape(), (Shape{2, 3}));
  const std::vector<float> w = contents.tensors.at("w").to_vector();
  const std::vector<float> b = contents.tensors.at("b").to_vector();
  for (int i = 0; i < 10; ++i) {
    const double sum = double(values[0][i]) + double(values[1][i]) + double(values[2][i]);
    EXPECT_EQ(i < 6 ? w[i] : b[i - 6], static_cast<float>(sum / 3)) << "element " << i;
  }
  EXPECT_EQ(contents.metadata.at("averaged_checkpoints"), "3");
}

TEST(AverageCheckpoints, HoldsTheNewestConfigAndTaskFilesButNoTrainingState) {
  ScratchDir scratch;
  const Checkpoint late = write_run_checkpoint(scratch / "run", 300, sequence(0, 1));
  const Checkpoint early = write_run_checkpoint(scratch / "run", 200, sequence(1, 1));

  const Checkpoint averaged = average_checkpoints({late, early}, scratch / "avg");

  EXPECT_EQ(averaged.dir, scratch / "avg" / "checkpoints" / "step_00000300");
  EXPECT_EQ(averaged.step, 300);
  const Checkpoint verified = locate_checkpoint(scratch / "avg");  // a run directory: its newest checkpoint
  EXPECT_EQ(verified.dir, averaged.dir);
  EXPECT_EQ(read_text(verified.file(kConfigFile)), "seed: 300\n");
  EXPECT_EQ(read_text(verified.file(kTokenizerFile)), "tokenizer bytes");
  EXPECT_FALSE(verified.has(kOptimizerFile));
  EXPECT_FALSE(verified.has(kTrainerStateFile));
  const nlohmann::json record = nlohmann::json::parse(read_text(verified.file(kAverageFile)));
  ASSERT_EQ(record["checkpoints"].size(), 2u);
  EXPECT_EQ(record["checkpoints"][0]["step"], 300);
  EXPECT_EQ(record["checkpoints"][1]["step"], 200);
  EXPECT_EQ(record["checkpoints"][1]["dir"], fs::absolute(early.dir).lexically_normal().string());
}

TEST(AverageCheckpoints, RefusesCheckpointsOfDifferentModelsNamingTheTensor) {
  ScratchDir scratch;
  const Checkpoint a = write_run_checkpoint(scratch / "a", 100, sequence(0, 1));
  const Checkpoint b = write_run_checkpoint(scratch / "b", 100, sequence(0, 1), "tokenizer bytes", {3, 2});
  expect_error<CheckpointError>([&] { average_checkpoints({a, b}, scratch / "avg"); },
                                {(b.dir / kWeightsFile).string(), "'w'", "[3, 2]", "[2, 3]", "different models"});
  EXPECT_FALSE(fs::exists(scratch / "avg"));
}

TEST(AverageCheckpoints, RefusesCheckpointsWithDifferentTokenizers) {
  ScratchDir scratch;
  const Checkpoint a = write_run_checkpoint(scratch / "a", 100, sequence(0, 1));
  const Checkpoint b = write_run_checkpoint(scratch / "b", 200, sequence(0, 1), "another tokenizer");
  expect_error<CheckpointError>([&] { average_checkpoints({a, b}, scratch / "avg"); },
                                {(a.dir / kTokenizerFile).string(), "differs from", (b.dir / kTokenizerFile).string()});
  EXPECT_TRUE(list_checkpoint_dirs(scratch / "avg").empty());
}

TEST(AverageCheckpoints, RefusesCheckpointsWhoseConfigsDescribeAnotherArchitecture) {
  ScratchDir scratch;
  const Checkpoint a = write_run_checkpoint(scratch / "a", 100, sequence(0, 1), "tokenizer bytes", {2, 3},
                                            "model: {n_head: 2, dropout: 0.1}\n");
  const Checkpoint b = write_run_checkpoint(scratch / "b", 200, sequence(0, 1), "tokenizer bytes", {2, 3},
                                            "model: {n_head: 3, dropout: 0.2}\n");
  expect_error<CheckpointError>([&] { average_checkpoints({a, b}, scratch / "avg"); },
                                {(a.dir / kConfigFile).string(), "model.n_head is 2", (b.dir / kConfigFile).string(),
                                 "has 3"});
  const Checkpoint c = write_run_checkpoint(scratch / "c", 300, sequence(0, 1), "tokenizer bytes", {2, 3},
                                            "model: {n_head: 3, dropout: 0}\n");
  EXPECT_NO_THROW(average_checkpoints({b, c}, scratch / "avg")) << "dropout may differ";
}

TEST(AverageCheckpoints, RefusesFewerThanTwoInputsAndOneGivenTwice) {
  ScratchDir scratch;
  const Checkpoint a = write_run_checkpoint(scratch / "run", 100, sequence(0, 1));
  expect_error<InputError>([&] { average_checkpoints({a}, scratch / "avg"); }, {"at least 2", "got 1"});
  expect_error<InputError>([&] { average_checkpoints({a, a}, scratch / "avg"); }, {a.dir.string(), "given twice"});
}

TEST(AverageCheckpoints, WritesOnlyIntoANewDirectoryAndCleansUpAnInterruptedAverage) {
  ScratchDir scratch;
  const Checkpoint a = write_run_checkpoint(scratch / "run", 100, sequence(0, 1));
  const Checkpoint b = write_run_checkpoint(scratch / "run", 200, sequence(1, 1));
  // The run's own directory holds its checkpoints: averaging into it would hide them.
  expect_error<InputError>([&] { average_checkpoints({a, b}, scratch / "run"); },
                           {"--output " + (scratch / "run").string(), "already holds checkpoints"});
  fs::create_directories(scratch / "notes");
  write_text(scratch / "notes" / "todo.txt", "x");
  expect_error<InputError>([&] { average_checkpoints({a, b}, scratch / "notes"); }, {"not empty", "todo.txt"});

  fs::create_directories(scratch / "empty");
  EXPECT_NO_THROW(average_checkpoints({a, b}, scratch / "empty"));

  const fs::path leftover = scratch / "avg" / "checkpoints" / temp_name("step_00000200", testing::dead_pid(), 0);
  fs::create_directories(leftover);
  write_text(leftover / kWeightsFile, "partial");
  average_checkpoints({a, b}, scratch / "avg");
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_EQ(list_checkpoint_dirs(scratch / "avg").size(), 1u);
}

TEST(AverageCheckpoints, NewestCheckpointsOfARunSkipTheOnesThatDoNotVerify) {
  ScratchDir scratch;
  for (int64_t step : {100, 200, 300, 400}) write_run_checkpoint(scratch / "run", step, sequence(float(step), 1));
  write_text(scratch / "run" / "checkpoints" / "step_00000400" / kWeightsFile, "truncated");

  std::vector<std::string> skipped;
  const std::vector<Checkpoint> newest = newest_checkpoints(scratch / "run", 2, &skipped);
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].step, 300);
  EXPECT_EQ(newest[1].step, 200);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("step_00000400"), std::string::npos) << skipped[0];

  // The run's checkpoints/ folder, with or without a trailing slash, stands for the run.
  EXPECT_EQ(newest_checkpoints(scratch / "run" / "checkpoints" / "", 1).front().step, 300);
  EXPECT_EQ(newest_checkpoints(scratch / "run" / "", 1).front().step, 300);
  EXPECT_EQ(newest_checkpoints(scratch / "run", 4).size(), 3u);  // all that verify
  expect_error<CheckpointError>([&] { newest_checkpoints(scratch / "nothing", 2); }, {"not a run directory"});
}

}  // namespace
}  // namespace tapelm
