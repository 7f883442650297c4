// The classification task through the fine-tuning loop: it learns a separable toy set,
// starts from a pretrained backbone, freezes what it is told to, and `predict` / `eval
// --data` report in their documented formats.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <tapelm/nn/safetensors.h>
#include "tests/train/finetune_fixture.h"
#include "tests/train/tiny_run.h"
#include <tapelm/train/tasks/labeled_training_task.h>
#include <tapelm/train/tasks/classification_task.h>
#include <tapelm/train/cli/cli.h>
#include <tapelm/train/checkpoint/finetune_checkpoint.h>
#include <tapelm/train/tasks/finetune_data.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace {

using testing::ScratchDir;

std::map<std::string, Tensor> checkpoint_weights(const std::filesystem::path& dir) {
  return load_safetensors((dir / kWeightsFile).string()).tensors;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::equal(a.data(), a.data() + a.numel(), b.data());
}

TEST(FinetuneClassification, LearnsASeparableToySet) {
  ScratchDir scratch;
  const testing::FinetuneOutcome outcome = testing::run_finetuning(testing::write_toy_finetune(scratch, 40));
  ASSERT_TRUE(outcome.result.test.has_value()) << outcome.log;
  EXPECT_GE(outcome.result.test->metric("accuracy"), 0.99) << outcome.log;
  EXPECT_GE(outcome.result.test->metric("macro_f1"), 0.99) << outcome.log;
  EXPECT_TRUE(std::filesystem::exists(scratch / "ft" / "split.json"));
  EXPECT_TRUE(std::filesystem::exists(scratch / "ft" / "test_report.txt"));
  const Checkpoint best = locate_checkpoint(best_checkpoint_dir(scratch / "ft"));
  EXPECT_TRUE(best.has(kLabelsFile));
  EXPECT_TRUE(best.has(kTokenizerFile));
  // The class balance and the confusion matrix are reported.
  EXPECT_NE(outcome.log.find("class balance"), std::string::npos) << outcome.log;
  EXPECT_NE(outcome.log.find("test split ("), std::string::npos) << outcome.log;
}

TEST(FinetuneClassification, AutoClassWeightsOnImbalancedDataAreLogged) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 10);
  // Every "good" example and a third of the "bad" ones: 48 against 16, all in training
  // (val and test are given), so auto gives good 64 / (2·48) and bad 64 / (2·16).
  std::istringstream all(testing::toy_classification_jsonl());
  std::string line, kept;
  for (int i = 0; std::getline(all, line); ++i) {
    if (i % 2 == 0 || i % 6 == 1) kept += line + "\n";
  }
  testing::write_text(scratch / "imbalanced.jsonl", kept);
  const std::string file = (scratch / "imbalanced.jsonl").string();
  const testing::FinetuneOutcome outcome = testing::run_finetuning(
      config, {"data.train=" + file, "data.val=" + file, "data.test=" + file, "classification.class_weights=auto"});
  EXPECT_NE(outcome.log.find("\nclass weights (auto): bad 2, good 0.6667\n"), std::string::npos) << outcome.log;
  EXPECT_EQ(outcome.result.step, 10);
}

TEST(FinetuneClassification, InitFromStartsFromThePretrainedBackbone) {
  ScratchDir scratch;
  const testing::TinyRun pre = testing::write_tiny_run(scratch, 10);
  testing::run_pretraining(pre.config);
  const Checkpoint init = locate_checkpoint(pre.out_dir);

  // The toy config's model section matches the tiny pretraining run's architecture.
  FinetuneConfig config =
      load_config<FinetuneConfig>(testing::write_toy_finetune(scratch).string(), {"init_from=" + pre.out_dir.string()});
  ASSERT_TRUE(resolve_init_from(config, nullptr).has_value());
  const FinetuneData data = load_finetune_data(config, scratch / "split.json");
  std::ostringstream log;
  TaskSetup setup = testing::task_setup(config, data.examples, data.split.train, {}, log);
  setup.init_from = &init;
  const std::unique_ptr<FinetuneTask> task = make_finetune_task(setup);

  const std::map<std::string, Tensor> pretrained = checkpoint_weights(init.dir);
  int compared = 0;
  for (const auto& [name, param] : task->model().named_parameters()) {
    if (name.rfind("head.", 0) == 0) {
      EXPECT_EQ(pretrained.count(name), 0u) << name;
      continue;
    }
    ASSERT_EQ(pretrained.count(name), 1u) << name;
    EXPECT_TRUE(bitwise_equal(param.value(), pretrained.at(name))) << name;
    ++compared;
  }
  EXPECT_GT(compared, 10);
  EXPECT_NE(log.str().find("new: head.weight, head.bias"), std::string::npos) << log.str();
}

TEST(FinetuneClassification, FrozenParametersStayBitwiseUnchanged) {
  ScratchDir scratch;
  const testing::TinyRun pre = testing::write_tiny_run(scratch, 10);
  testing::run_pretraining(pre.config);
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 10);
  // The toy config's model section matches the tiny pretraining run's architecture.
  const testing::FinetuneOutcome outcome = testing::run_finetuning(
      config, {"init_from=" + pre.out_dir.string(), "classification.freeze_embeddings=true",
               "classification.freeze_layers=1", "classification.head_lr_scale=10"});
  ASSERT_FALSE(outcome.result.checkpoint.empty()) << outcome.log;
  const std::map<std::string, Tensor> before = checkpoint_weights(locate_checkpoint(pre.out_dir).dir);
  const std::map<std::string, Tensor> after = checkpoint_weights(outcome.result.checkpoint);
  int frozen = 0, trained = 0;
  for (const auto& [name, value] : after) {
    if (name.rfind("head.", 0) == 0) continue;
    const bool should_freeze = name.rfind("tok_emb.", 0) == 0 || name.rfind("pos_emb.", 0) == 0 ||
                               name.rfind("blocks.0.", 0) == 0;
    if (should_freeze) {
      EXPECT_TRUE(bitwise_equal(value, before.at(name))) << name << " changed although frozen";
      ++frozen;
    } else if (!bitwise_equal(value, before.at(name))) {
      ++trained;
    }
  }
  EXPECT_GT(frozen, 2);
  EXPECT_GT(trained, 2) << "the unfrozen layers should have been updated";
}

TEST(FinetuneClassification, HeadGetsItsOwnLearningRateAndFrozenParametersNoGroup) {
  ScratchDir scratch;
  const FinetuneConfig config = load_config<FinetuneConfig>(
      testing::write_toy_finetune(scratch).string(),
      {"classification.head_lr_scale=3", "classification.freeze_layers=1", "optimizer.weight_decay=0.1"});
  std::ostringstream log;
  const std::unique_ptr<LabeledTrainingTask> task =
      make_labeled_training_task(config, std::nullopt, std::nullopt, nullptr, log);
  const std::vector<ParamGroup> groups = task->param_groups();
  ASSERT_EQ(groups.size(), 4u);
  size_t grouped = 0;
  for (const ParamGroup& group : groups) {
    const bool head_group = group.name.rfind("head_", 0) == 0;
    EXPECT_EQ(group.lr_scale, head_group ? 3.0 : 1.0) << group.name;
    for (const auto& [name, param] : group.params) {
      EXPECT_EQ(name.rfind("head.", 0) == 0, head_group) << name << " in " << group.name;
      EXPECT_NE(name.rfind("blocks.0.", 0), 0u) << name << " is frozen but in " << group.name;
      ++grouped;
    }
  }
  size_t trainable = 0;
  for (const auto& [name, param] : task->model().named_parameters()) trainable += param.requires_grad() ? 1 : 0;
  EXPECT_EQ(grouped, trainable);
  EXPECT_EQ(groups[1].params.size() + groups[3].params.size(), 2u);  // head.weight, head.bias
}

TEST(FinetuneClassification, PredictWritesOneJsonLinePerExample) {
  ScratchDir scratch;
  testing::run_finetuning(testing::write_toy_finetune(scratch, 30));
  testing::write_text(scratch / "in.jsonl", "{\"id\": \"a\", \"text\": \"sunny warm calm\"}\n"
                                            "{\"text\": \"stormy dark cold\"}\n");
  testing::write_text(scratch / "in.txt", "sunny happy\n\nangry loud\nwarm\n");
  const std::string best = best_checkpoint_dir(scratch / "ft").string();
  for (const std::string input : {"in.jsonl", "in.txt"}) {
    const std::string output = (scratch / (input + ".out")).string();
    const std::string in = (scratch / input).string();
    const testing::CliOutcome predict =
        testing::run_cli_in_process({"predict", "--checkpoint", best, "--input", in, "--output", output});
    ASSERT_EQ(predict.exit_code, kExitOk) << predict.err;
    std::istringstream lines(testing::read_text(output));
    std::vector<nlohmann::json> records;
    std::string line;
    while (std::getline(lines, line)) records.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(records.size(), input == "in.jsonl" ? 2u : 3u) << input;
    for (size_t i = 0; i < records.size(); ++i) {
      const nlohmann::json& r = records[i];
      EXPECT_EQ(r.at("index").get<size_t>(), i);
      const std::string label = r.at("label").get<std::string>();
      EXPECT_TRUE(label == "good" || label == "bad") << r.dump();
      const double p_good = r.at("probabilities").at("good").get<double>();
      const double p_bad = r.at("probabilities").at("bad").get<double>();
      EXPECT_NEAR(p_good + p_bad, 1.0, 1e-5);
      EXPECT_EQ(label, p_good > p_bad ? "good" : "bad");
    }
    EXPECT_EQ(records[0].at("label"), "good");
    EXPECT_EQ(records[1].at("label"), "bad");
    if (input == "in.jsonl") {
      EXPECT_EQ(records[0].at("id"), "a");
      EXPECT_FALSE(records[1].contains("id"));
    }
  }
}

TEST(FinetuneClassification, PredictNamesTheMissingField) {
  ScratchDir scratch;
  testing::run_finetuning(testing::write_toy_finetune(scratch, 10));
  testing::write_text(scratch / "in.jsonl", "{\"text\": \"sunny\"}\n{\"body\": \"dark\"}\n");
  PredictArgs args{best_checkpoint_dir(scratch / "ft").string(), (scratch / "in.jsonl").string(), "", {}};
  try {
    run_predict(args);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("in.jsonl:2: no field 'text'"), std::string::npos) << e.what();
  }
}

TEST(FinetuneClassification, EvalDataReportsTheTaskMetricsOnALabeledFile) {
  ScratchDir scratch;
  testing::run_finetuning(testing::write_toy_finetune(scratch, 40));
  // Separable by construction, like the training data; the CSV quoting holds a comma.
  testing::write_text(scratch / "held.csv", "text,label\n\"sunny, warm\",good\nstormy cold,bad\n");
  const std::string best = best_checkpoint_dir(scratch / "ft").string();
  const std::string data = (scratch / "held.csv").string();
  const testing::CliOutcome eval = testing::run_cli_in_process({"eval", "--checkpoint", best, "--data", data});
  ASSERT_EQ(eval.exit_code, kExitOk) << eval.out << eval.err;
  EXPECT_NE(eval.out.find("accuracy 1.0000, macro_f1 1.0000"), std::string::npos) << eval.out;
  EXPECT_NE(eval.out.find("over 2 examples"), std::string::npos) << eval.out;

  const testing::CliOutcome json =
      testing::run_cli_in_process({"eval", "--checkpoint", best, "--data", data, "--json"});
  ASSERT_EQ(json.exit_code, kExitOk) << json.err;
  const nlohmann::json record = nlohmann::json::parse(json.out);
  EXPECT_EQ(record.at("file"), data);
  EXPECT_NE(eval.out.find("(checkpoint " + record.at("checkpoint").get<std::string>() + ", step " +
                          std::to_string(record.at("step").get<int64_t>()) + ", 1 thread)"),
            std::string::npos)
      << eval.out;
  EXPECT_EQ(record.at("examples"), 2);
  EXPECT_EQ(record.at("metrics").at("accuracy"), 1.0);
  EXPECT_EQ(record.at("metrics").at("macro_f1"), 1.0);
  EXPECT_NE(eval.out.find(record.at("report").get<std::string>()), std::string::npos) << eval.out;

  testing::write_text(scratch / "bad.csv", "text,label\nsunny,neutral\n");
  const std::string bad = (scratch / "bad.csv").string();
  const testing::CliOutcome refused = testing::run_cli_in_process({"eval", "--checkpoint", best, "--data", bad});
  EXPECT_EQ(refused.exit_code, kExitBadInput);
  EXPECT_NE(refused.err.find("bad.csv:2"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("neutral"), std::string::npos) << refused.err;

  const testing::CliOutcome beam =
      testing::run_cli_in_process({"eval", "--checkpoint", best, "--data", data, "--beam-size", "2"});
  EXPECT_EQ(beam.exit_code, kExitBadInput);
  EXPECT_NE(beam.err.find("--beam-size: " + best), std::string::npos) << beam.err;
  EXPECT_NE(beam.err.find(" holds a classification model; only seq2seq models decode with a beam"), std::string::npos)
      << beam.err;
  const testing::CliOutcome penalty =
      testing::run_cli_in_process({"eval", "--checkpoint", best, "--data", data, "--length-penalty", "1"});
  EXPECT_EQ(penalty.exit_code, kExitBadInput);
  EXPECT_NE(penalty.err.find("--length-penalty: " + best), std::string::npos) << penalty.err;
  EXPECT_NE(penalty.err.find(" holds a classification model"), std::string::npos) << penalty.err;
}

}  // namespace
}  // namespace tapelm
