// Tests for the pretraining loop through the library API (train/trainer.h) on a tiny
// generated corpus: outputs of a run, bitwise-exact resume, corrupted checkpoints, pruning,
// non-finite steps and which config changes a resume accepts.
#include <tapelm/train/checkpoint/resume.h>
#include <tapelm/train/cli/training_runs.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <tapelm/autograd/bf16_matmul.h>
#include <tapelm/data/atomic_file.h>
#include <tapelm/nn/safetensors.h>
#include "tests/train/tiny_run.h"
#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using testing::checkpoint_path;
using testing::read_metrics;
using testing::read_text;
using testing::run_pretraining;
using testing::same_bytes;
using testing::ScratchDir;
using testing::train_records;
using testing::write_text;
using testing::write_tiny_run;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<int64_t> checkpoint_steps(const fs::path& out_dir) {
  std::vector<int64_t> steps;
  for (const CheckpointDir& d : list_checkpoint_dirs(out_dir)) steps.push_back(d.step);
  return steps;
}

template <class E>
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception thrown";
  return "";
}

TEST(Trainer, AZeroMicroBatchIsAConfigErrorRatherThanADivisionByZero) {
  TrainSection train;
  train.batch_size = 8;
  train.micro_batch_size = 0;
  EXPECT_EQ(error_of<ConfigError>([&] { accumulation_steps(train, 1); }),
            "train.batch_size (8) and train.micro_batch_size (0) must be positive");
  train.micro_batch_size = 4;
  EXPECT_EQ(accumulation_steps(train, 1), 2);
}

TEST(Trainer, ThePlanLineSaysStepInTheSingularForOne) {
  TrainSection train;
  train.batch_size = 8;
  train.micro_batch_size = 8;
  train.max_steps = 1;
  EXPECT_EQ(describe_batches(train, 1, 1, 1, 16.0),
            "batch: 8 examples per step (micro-batch 8, 1 accumulation step); 1 step = 0.50 epochs of the training "
            "data");
  EXPECT_EQ(describe_batches(train, 1, 2, 1, 16.0),
            "batch: 8 examples per step (2 ranks x micro-batch 8 x 1 accumulation step); 1 step = 0.50 epochs of the "
            "training data");
  train.micro_batch_size = 4;
  train.max_steps = 20;
  EXPECT_EQ(describe_batches(train, 2, 1, 1, 16.0),
            "batch: 8 examples per step (micro-batch 4, 2 accumulation steps); 20 steps = 10.00 epochs of the "
            "training data");
}

TEST(Trainer, TinyRunWritesMetricsPlotSamplesAndCheckpointsAndItsLossFalls) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 30);
  const auto outcome = run_pretraining(run.config);
  EXPECT_FALSE(outcome.result.stopped);
  EXPECT_EQ(outcome.result.step, 30);
  EXPECT_EQ(outcome.result.checkpoint, checkpoint_path(run.out_dir, 30));
  EXPECT_TRUE(contains(outcome.log, "total: ")) << "the model summary is printed";

  std::vector<double> losses, val_losses;
  for (const auto& record : read_metrics(run.out_dir)) {
    if (record.contains("loss")) {
      EXPECT_EQ(record["step"].get<int64_t>(), int64_t(losses.size()) + 1);
      for (const char* key : {"lr", "grad_norm", "tokens_per_s", "skipped_steps"}) EXPECT_TRUE(record.contains(key)) << key;
      EXPECT_GT(record["tokens_per_s"].get<double>(), 0);
      losses.push_back(record["loss"].get<double>());
    } else {
      EXPECT_NEAR(record["val_ppl"].get<double>(), std::exp(record["val_loss"].get<double>()), 1e-9);
      val_losses.push_back(record["val_loss"].get<double>());
    }
  }
  ASSERT_EQ(losses.size(), 30u);
  ASSERT_EQ(val_losses.size(), 3u);  // steps 10, 20, 30
  const double first = (losses[0] + losses[1] + losses[2]) / 3, last = (losses[27] + losses[28] + losses[29]) / 3;
  EXPECT_NEAR(first, std::log(120.0), 0.5) << "an untrained model is close to uniform over the 120 pieces";
  EXPECT_LT(last, first - 1.0);
  EXPECT_LT(val_losses[2], val_losses[0]);

  const std::string svg = read_text(run.out_dir / "loss.svg");
  for (const char* part : {"<svg", "<polyline", ">step</text>", ">loss (nats/token)</text>", "validation loss"}) {
    EXPECT_TRUE(contains(svg, part)) << part;
  }
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    EXPECT_EQ(read_text(run.out_dir / "loss.png").substr(0, 4), "\x89PNG") << "gnuplot is on PATH, so loss.png is drawn";
  }
  const std::string samples = read_text(run.out_dir / "samples.txt");
  EXPECT_TRUE(contains(samples, "=== step 10 (val loss ")) << samples;
  EXPECT_TRUE(contains(samples, "=== step 30 (val loss ")) << samples;
  EXPECT_TRUE(contains(samples, "\nThe whale")) << samples;

  EXPECT_EQ(checkpoint_steps(run.out_dir), (std::vector<int64_t>{10, 20, 30}));
  const Checkpoint last_checkpoint = verify_checkpoint(checkpoint_path(run.out_dir, 30));
  for (const char* file : {kWeightsFile, kOptimizerFile, kTrainerStateFile, kConfigFile, kTokenizerFile}) {
    EXPECT_TRUE(last_checkpoint.has(file)) << file;
  }
  const TrainerState state = checkpoint_trainer_state(last_checkpoint);
  EXPECT_EQ(state.step, 30);
  EXPECT_EQ(state.examples_seen, 30 * 8);
  EXPECT_EQ(state.world_size, 1);
  EXPECT_GT(state.sampler.at("counter").get<uint64_t>(), 0u);
  ASSERT_TRUE(state.best_metric.has_value());
  EXPECT_DOUBLE_EQ(*state.best_metric, *std::min_element(val_losses.begin(), val_losses.end()));
}

// Runs 8 steps at once and as 4 + 4 with `extra` overrides; expects the same records and
// checkpoints. *resumed_log: the resumed run's log.
void expect_resume_is_exact(const std::vector<std::string>& extra, std::string* resumed_log) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 8);
  const fs::path whole = scratch / "whole", halves = scratch / "halves";
  // Two threads: the kernels' parallel paths must be as reproducible as the serial ones.
  std::vector<std::string> common = {"train.threads=2", "scheduler.warmup_steps=2"};
  common.insert(common.end(), extra.begin(), extra.end());
  const auto with = [&](std::vector<std::string> overrides) {
    overrides.insert(overrides.end(), common.begin(), common.end());
    return overrides;
  };
  run_pretraining(run.config, with({"out_dir=" + whole.string()}));
  run_pretraining(run.config, with({"out_dir=" + halves.string(), "train.max_steps=4"}));
  const auto resumed = run_pretraining(run.config, with({"out_dir=" + halves.string()}), /*resume=*/true);
  *resumed_log = resumed.log;
  EXPECT_TRUE(contains(resumed.log, "resuming from " + checkpoint_path(halves, 4).string())) << resumed.log;
  EXPECT_TRUE(contains(resumed.log, "resume: train.max_steps changed from 4 to 8")) << resumed.log;

  const auto expected = train_records(whole);
  ASSERT_EQ(expected.size(), 8u);
  EXPECT_EQ(train_records(halves), expected) << "every step's loss, lr and grad_norm, as written";
  for (const char* file : {kWeightsFile, kTrainWeightsFile, kOptimizerFile}) {
    if (file == kTrainWeightsFile && !fs::exists(checkpoint_path(whole, 8) / file)) continue;
    EXPECT_TRUE(same_bytes(checkpoint_path(halves, 8) / file, checkpoint_path(whole, 8) / file)) << file;
  }
}

TEST(Trainer, ResumedRunMatchesTheUninterruptedRunBitForBit) {
  std::string log;
  expect_resume_is_exact({}, &log);
  EXPECT_TRUE(contains(log, ", fp32\n")) << "the run log names the products' precision: " << log;
}

TEST(Trainer, ARunWithAnEmaResumesBitForBitWeightsAndAverage) {
  std::string log;
  expect_resume_is_exact({"train.ema_decay=0.9"}, &log);
  EXPECT_TRUE(contains(log, "evaluating the EMA of the weights, decay 0.9\n")) << log;
}

TEST(Trainer, GenerateAndEvalLoadTheAverageOfAnEmaCheckpoint) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 6);
  run_pretraining(run.config, {"train.ema_decay=0.9", "checkpoint.interval=6", "eval.interval=6"});
  const Checkpoint checkpoint = verify_checkpoint(checkpoint_path(run.out_dir, 6));
  const SafetensorsContents average = load_safetensors(checkpoint.file(kWeightsFile).string());
  const SafetensorsContents weights = load_safetensors(checkpoint.file(kTrainWeightsFile).string());
  const TrainedModel model = load_trained_model(checkpoint);  // what generate, eval and init_from load
  int differing = 0;
  for (const auto& [name, param] : model.model->named_parameters()) {
    const Tensor& expected = average.tensors.at(name);
    ASSERT_EQ(param.numel(), expected.numel()) << name;
    EXPECT_TRUE(std::equal(param.data(), param.data() + param.numel(), expected.data())) << name;
    const Tensor& raw = weights.tensors.at(name);
    differing += !std::equal(raw.data(), raw.data() + raw.numel(), expected.data());
  }
  EXPECT_GT(differing, 0) << "the average differs from the weights after 6 steps";
}

TEST(Trainer, ABf16RunResumesBitForBitAndSaysHowItsProductsRun) {
  std::string why;
  if (!kernels::detail::bf16_matmul_available(&why)) GTEST_SKIP() << why;
  std::string log;
  expect_resume_is_exact({"train.precision=bf16"}, &log);
  EXPECT_TRUE(contains(log, "2 threads, gemm ")) << log;
  EXPECT_TRUE(contains(log, ", bf16\n")) << log;
}

TEST(Trainer, StopRequestWritesACheckpointAndTheContinuationMatches) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 16);
  const fs::path whole = scratch / "whole", stopped = scratch / "stopped";
  run_pretraining(run.config, {"out_dir=" + whole.string()});
  const auto first = run_pretraining(run.config, {"out_dir=" + stopped.string()}, false, "", /*stop_after_polls=*/7);
  EXPECT_TRUE(first.result.stopped);
  EXPECT_EQ(first.result.step, 7);
  EXPECT_EQ(first.result.checkpoint, checkpoint_path(stopped, 7));
  const auto second = run_pretraining(run.config, {"out_dir=" + stopped.string()}, /*resume=*/true);
  EXPECT_FALSE(second.result.stopped);
  EXPECT_EQ(train_records(stopped), train_records(whole));
  EXPECT_TRUE(same_bytes(checkpoint_path(stopped, 16) / kWeightsFile, checkpoint_path(whole, 16) / kWeightsFile));
}

TEST(Trainer, ResumeSkipsATruncatedOrCorruptedCheckpointAndSaysWhy) {
  struct Damage {
    const char* file;
    bool truncate;  // else flip one byte
    const char* reason;
  };
  for (const Damage& damage : {Damage{kWeightsFile, true, "(file truncated?)"},
                               Damage{kOptimizerFile, false, "checksum mismatch (file corrupted?)"}}) {
    ScratchDir scratch;
    const auto run = write_tiny_run(scratch, 10);
    run_pretraining(run.config, {"checkpoint.interval=5"});
    const fs::path bad = checkpoint_path(run.out_dir, 10) / damage.file;
    if (damage.truncate) {
      fs::resize_file(bad, fs::file_size(bad) / 2);
    } else {
      std::string bytes = read_text(bad);
      bytes[bytes.size() / 2] ^= 0x10;
      write_text(bad, bytes);
    }
    EXPECT_NO_THROW(verify_checkpoint(checkpoint_path(run.out_dir, 5))) << "the previous checkpoint still loads";

    const auto resumed =
        run_pretraining(run.config, {"checkpoint.interval=5", "train.max_steps=12"}, /*resume=*/true);
    EXPECT_TRUE(contains(resumed.log, "warning: " + bad.string() + ": ")) << resumed.log;
    EXPECT_TRUE(contains(resumed.log, damage.reason)) << resumed.log;
    EXPECT_TRUE(contains(resumed.log, "skipped step_00000010")) << resumed.log;
    EXPECT_TRUE(contains(resumed.log, "resuming from " + checkpoint_path(run.out_dir, 5).string())) << resumed.log;
    EXPECT_EQ(resumed.result.step, 12);
    // The corrupted checkpoint was set aside, then replaced by the resumed run's own step 10.
    EXPECT_TRUE(contains(resumed.log, "resume: step_00000010 is newer than step 5 and belongs to the abandoned run "
                                      "(corrupted: "))
        << resumed.log;
    EXPECT_TRUE(fs::exists(abandoned_dir(run.out_dir) / "step_00000010")) << resumed.log;
    fs::remove_all(abandoned_dir(run.out_dir));
    EXPECT_NO_THROW(verify_checkpoint(checkpoint_path(run.out_dir, 10)));
    std::map<int64_t, int> records_per_step;
    for (const auto& record : read_metrics(run.out_dir)) {
      if (record.contains("loss")) ++records_per_step[record["step"].get<int64_t>()];
    }
    EXPECT_EQ(records_per_step.size(), 12u);
    for (const auto& [step, count] : records_per_step) EXPECT_EQ(count, 1) << "step " << step;
  }
}

TEST(Trainer, ResumeFromAnOlderCheckpointSetsTheNewerOnesAsideAndSaysSo) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 20);
  run_pretraining(run.config);
  const std::string newer = read_text(checkpoint_path(run.out_dir, 20) / kWeightsFile);
  const auto resumed = run_pretraining(run.config, {"train.max_steps=15", "checkpoint.interval=5"}, true,
                                       checkpoint_path(run.out_dir, 10).string());
  const fs::path aside = abandoned_dir(run.out_dir) / "step_00000020";
  EXPECT_TRUE(contains(resumed.log, "resume: step_00000020 is newer than step 10 and belongs to the abandoned run "
                                    "(valid); set aside as " + aside.string()))
      << resumed.log;
  EXPECT_EQ(checkpoint_steps(run.out_dir), (std::vector<int64_t>{10, 15}));
  EXPECT_EQ(read_text(verify_checkpoint(aside).file(kWeightsFile)), newer) << "nothing the abandoned run saved is lost";
}

TEST(Trainer, KeepLastPrunesOlderCheckpoints) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 20);
  const auto outcome = run_pretraining(run.config, {"checkpoint.interval=4", "checkpoint.keep_last=2"});
  EXPECT_EQ(checkpoint_steps(run.out_dir), (std::vector<int64_t>{16, 20}));
  EXPECT_TRUE(contains(outcome.log, "checkpoint: " + checkpoint_path(run.out_dir, 12).string() + " (removed step_00000004)"))
      << outcome.log;
  EXPECT_EQ(*read_latest_pointer(run.out_dir), "step_00000020");
}

TEST(Trainer, NonFiniteStepsAreSkippedAndTooManyInARowStopTheRun) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 10);
  run_pretraining(run.config);
  const fs::path good = checkpoint_path(run.out_dir, 10);
  fs::copy_file(good / kWeightsFile, scratch / "weights_before.safetensors");

  // An absurd learning rate: step 11 still starts from sane weights, then every loss is inf/NaN.
  const PreparedRun diverging = prepare_pretrain(testing::pretrain_args(
      run.config,
      {"optimizer.lr=1e30", "train.max_steps=40", "train.max_bad_steps=3", "checkpoint.interval=1", "eval.interval=1"},
      /*resume=*/true));
  std::ostringstream log;
  TrainerOptions options;
  options.log = &log;
  const std::string error = error_of<TrainingDiverged>([&] { pretrain(diverging, options); });
  EXPECT_TRUE(contains(error, "steps 12 to 14 all had a non-finite loss or gradient norm (train.max_bad_steps = 3)"))
      << error;
  EXPECT_TRUE(contains(error, "The last good checkpoint is " + checkpoint_path(run.out_dir, 11).string())) << error;
  EXPECT_TRUE(contains(log.str(), "step 12: non-finite loss (nan), step skipped (1 in a row; the run stops at 3)"))
      << log.str();
  EXPECT_TRUE(contains(log.str(), "no sample at step 11: sampling: the logits are NaN or infinite")) << log.str();

  EXPECT_EQ(checkpoint_steps(run.out_dir), (std::vector<int64_t>{10, 11})) << "no checkpoint for skipped steps";
  EXPECT_NO_THROW(verify_checkpoint(good));
  EXPECT_TRUE(same_bytes(good / kWeightsFile, scratch / "weights_before.safetensors"));
  const auto records = read_metrics(run.out_dir);
  ASSERT_EQ(records.back()["step"], 14);
  ASSERT_TRUE(records.back().contains("loss")) << "the run stopped before evaluating step 14";
  EXPECT_TRUE(records.back()["loss"].is_null() || records.back()["grad_norm"].is_null()) << records.back().dump();
  EXPECT_EQ(records.back()["skipped_steps"], 3);
}

TEST(Trainer, ResumeRefusesArchitectureChangesButAcceptsANewLearningRate) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 10);
  run_pretraining(run.config);

  std::string error = error_of<ConfigError>(
      [&] { run_pretraining(run.config, {"model.n_layer=3", "train.max_steps=12"}, true); });
  EXPECT_TRUE(contains(error, "the architecture cannot change when resuming; model.n_layer is 2 in the checkpoint but 3 now"))
      << error;
  error = error_of<ConfigError>(
      [&] { run_pretraining(run.config, {"tokenizer.vocab_size=100", "train.max_steps=12"}, true); });
  EXPECT_TRUE(contains(error, "tokenizer.vocab_size is 120 in the checkpoint but 100 now")) << error;
  EXPECT_EQ(checkpoint_steps(run.out_dir), (std::vector<int64_t>{10}));

  const auto resumed = run_pretraining(run.config, {"optimizer.lr=1e-3", "train.max_steps=12"}, true);
  EXPECT_TRUE(contains(resumed.log, "resume: optimizer.lr changed from 0.003 to 0.001")) << resumed.log;
  EXPECT_EQ(resumed.result.step, 12);
  for (const auto& record : read_metrics(run.out_dir)) {
    if (!record.contains("lr") || record["step"] <= 5) continue;  // warmup
    EXPECT_EQ(record["lr"], record["step"] <= 10 ? 3e-3 : 1e-3) << record.dump();
  }
}

TEST(Trainer, ARefusedResumeChangesNothingInOutDir) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 10);
  run_pretraining(run.config);
  write_checkpoint(run.out_dir, 30, {CheckpointFile::from_bytes("weights.safetensors", "torn")});
  write_text(checkpoint_path(run.out_dir, 30) / "weights.safetensors", "TORN");  // removable once accepted
  const std::string config_yaml = read_text(run.out_dir / "config.yaml");

  error_of<ConfigError>([&] { run_pretraining(run.config, {"model.n_layer=3", "train.max_steps=12"}, true); });
  error_of<ConfigError>([&] { run_pretraining(run.config, {"train.micro_batch_size=3", "train.max_steps=12"}, true); });
  EXPECT_EQ(read_text(run.out_dir / "config.yaml"), config_yaml);
  EXPECT_EQ(checkpoint_steps(run.out_dir), (std::vector<int64_t>{10, 30}));

  run_pretraining(run.config, {"optimizer.lr=1e-3", "train.max_steps=12"}, true);
  EXPECT_NE(read_text(run.out_dir / "config.yaml"), config_yaml);
  EXPECT_EQ(checkpoint_steps(run.out_dir), (std::vector<int64_t>{10, 12}));
}

TEST(Trainer, AnAcceptedRunRemovesTheTemporariesThatKilledRunsLeft) {
  ScratchDir scratch;
  const auto run = write_tiny_run(scratch, 10);
  run_pretraining(run.config);
  // Left by runs killed mid-write, whatever their pid: with the lock held none is in use.
  const long pid = ::getppid();
  const std::vector<fs::path> leftovers = {
      run.out_dir / ("config.yaml.tmp." + std::to_string(pid) + ".3"),  // as the previous release named them
      run.out_dir / temp_name("loss.svg", pid, 0), run.out_dir / temp_name("loss.png", pid, 8),
      checkpoints_dir(run.out_dir) / temp_name("latest", pid, 1),
      checkpoints_dir(run.out_dir) / temp_name("step_00000020", pid, 2)};
  for (const fs::path& path : leftovers) write_text(path, "partial");
  run_pretraining(run.config, {"train.max_steps=12"}, true);
  for (const fs::path& path : leftovers) EXPECT_FALSE(fs::exists(path)) << path;
}

}  // namespace
}  // namespace tapelm
