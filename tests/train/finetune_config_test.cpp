// The fine-tuning config: key tables, errors with origins and suggestions, derived values,
// the resolved YAML round trip, and init_from resolution.
#include <gtest/gtest.h>

#include "tests/train/finetune_fixture.h"
#include "tests/train/tiny_run.h"
#include <tapelm/train/checkpoint/finetune_checkpoint.h>
#include <tapelm/train/config/finetune_config.h>
#include <tapelm/train/tasks/finetune_data.h>

namespace tapelm {
namespace {

using testing::ScratchDir;

const char* const kMinimal = "out_dir: runs/x\ndata:\n  train: a.jsonl\n";

std::string config_error(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config<FinetuneConfig>(yaml, "ft.yaml", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(FinetuneConfig, MinimalConfigTakesDefaults) {
  const FinetuneConfig c = parse_config<FinetuneConfig>(kMinimal, "ft.yaml");
  EXPECT_EQ(c.task, "classification");
  EXPECT_EQ(c.data.train, std::vector<std::string>{"a.jsonl"});
  EXPECT_EQ(c.train.micro_batch_size, c.train.batch_size);
  EXPECT_EQ(c.max_len(), c.model.ctx_len);
  EXPECT_EQ(c.split_seed(), uint64_t(c.seed));
}

TEST(FinetuneConfig, UnknownKeyNamesLineAndSuggestsTheKey) {
  const std::string message = config_error(std::string(kMinimal) + "eval:\n  patiense: 3\n");
  EXPECT_NE(message.find("ft.yaml:5:3"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'patience'"), std::string::npos) << message;
}

TEST(FinetuneConfig, BadTaskListsTheChoices) {
  const std::string message = config_error(std::string(kMinimal) + "task: clasification\n");
  EXPECT_NE(message.find("ft.yaml:4:7"), std::string::npos) << message;
  EXPECT_NE(message.find("task"), std::string::npos) << message;
  EXPECT_NE(message.find("classification, seq2seq, completion"), std::string::npos) << message;
}

TEST(FinetuneConfig, SplitFractionsMustSumToOne) {
  const std::string message = config_error(std::string(kMinimal) + "  train_fraction: 0.7\n");
  EXPECT_NE(message.find("sum to 1, got 0.9"), std::string::npos) << message;
}

TEST(FinetuneConfig, TestFileMakesTestFractionIrrelevant) {
  EXPECT_EQ(config_error(std::string(kMinimal) + "  test: t.jsonl\n"), "(no error)");
  EXPECT_EQ(config_error(std::string(kMinimal) + "  test: t.jsonl\n  test_fraction: 0.5\n"), "(no error)");
}

TEST(FinetuneConfig, ValFileMakesValFractionIrrelevant) {
  EXPECT_EQ(config_error(std::string(kMinimal) + "  val: v.jsonl\n  val_fraction: 0.5\n"), "(no error)");
}

TEST(FinetuneConfig, FractionsSumToOneUpToDecimalRounding) {
  EXPECT_EQ(config_error(std::string(kMinimal) +
                         "  train_fraction: 0.3333333\n  val_fraction: 0.3333333\n  test_fraction: 0.3333334\n"),
            "(no error)");
  EXPECT_EQ(config_error(std::string(kMinimal) +
                         "  train_fraction: 0.3333333\n  val_fraction: 0.3333333\n  test_fraction: 0.3333333\n"),
            "(no error)");
}

TEST(FinetuneConfig, DecayAfterAWarmupAsLongAsTheRunIsRefusedAtValidation) {
  const std::string message = config_error(std::string(kMinimal) + "scheduler: {warmup_steps: 50}\n",
                                           {"train.max_steps=50"});
  EXPECT_EQ(message.rfind("ft.yaml:4:27: scheduler.warmup_steps: must be < train.max_steps (50) for scheduler.name: "
                          "cosine, got 50",
                          0),
            0u)
      << message;
}

TEST(FinetuneCli, AShortRunOfTheShippedG2pConfigIsRefusedSayingHowToFitItsWarmup) {
  // configs/finetune/g2p.yaml warms up for 500 steps of a cosine schedule.
  const testing::CliOutcome outcome = testing::run_cli_in_process(
      {"check", std::string(TAPELM_SOURCE_DIR) + "/configs/finetune/g2p.yaml", "--set", "train.max_steps=300"});
  EXPECT_EQ(outcome.exit_code, kExitBadInput);
  EXPECT_NE(outcome.err.find("g2p.yaml:"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find(": scheduler.warmup_steps: must be < train.max_steps (300) for "
                             "scheduler.name: cosine, got 500 (the decay needs steps after the warmup: set "
                             "scheduler.warmup_steps to at most 299, e.g. --set scheduler.warmup_steps=30, or "
                             "train.max_steps to at least 501, or use scheduler.name: constant)"),
            std::string::npos)
      << outcome.err;
  // The suggested override makes the config valid.
  EXPECT_NO_THROW(load_config<FinetuneConfig>(std::string(TAPELM_SOURCE_DIR) + "/configs/finetune/g2p.yaml",
                                              {"train.max_steps=300", "scheduler.warmup_steps=30"}));
}

TEST(FinetuneConfig, RecordsWhichKeysWereGivenAndWhere) {
  const FinetuneConfig c =
      parse_config<FinetuneConfig>(std::string(kMinimal) + "model: {n_layer: 4}\n", "ft.yaml", {"model.n_head=2"});
  EXPECT_EQ(c.given_keys.at("model.n_layer"), "ft.yaml:4:18");
  EXPECT_EQ(c.given_keys.at("model.n_head"), "--set model.n_head=2");
  EXPECT_EQ(c.given_keys.at("data.train"), "ft.yaml:3:10");
  EXPECT_EQ(c.given_keys.count("model.n_embd"), 0u);
}

TEST(FinetuneConfig, FoldersFormatOnlyForClassification) {
  const std::string message = config_error(std::string(kMinimal) + "  format: folders\ntask: completion\n");
  EXPECT_NE(message.find("data.format"), std::string::npos) << message;
}

TEST(FinetuneConfig, MaxWindowsIsAtLeastOneAndOnlyForClassification) {
  std::string message = config_error(std::string(kMinimal) + "  max_windows: 0\n");
  EXPECT_NE(message.find("data.max_windows"), std::string::npos) << message;
  EXPECT_NE(message.find(">= 1"), std::string::npos) << message;
  message = config_error(std::string(kMinimal) + "  max_windows: 2\ntask: completion\n");
  EXPECT_NE(message.find("data.max_windows"), std::string::npos) << message;
  EXPECT_EQ(parse_config<FinetuneConfig>(kMinimal, "ft.yaml").data.max_windows, 1);
}

TEST(FinetuneConfig, LabelMapReadsAMappingAndRejectsAList) {
  const FinetuneConfig c =
      parse_config<FinetuneConfig>(std::string(kMinimal) + "  label_map: {spam-1: spam, spam-2: spam, easy-ham-1: ham}\n", "ft.yaml");
  EXPECT_EQ(c.data.label_map.entries.size(), 3u);
  EXPECT_EQ(c.data.label_map.entries.at("spam-2"), "spam");
  const std::string message = config_error(std::string(kMinimal) + "  label_map: [a, b]\n");
  EXPECT_NE(message.find("data.label_map"), std::string::npos) << message;
  EXPECT_NE(message.find("mapping"), std::string::npos) << message;
}

TEST(FinetuneConfig, SetOverridesApplyIncludingAnEmptyInitFrom) {
  const FinetuneConfig c = parse_config<FinetuneConfig>(std::string(kMinimal) + "init_from: runs/pre\n", "ft.yaml",
                                                 {"init_from=", "eval.patience=4", "data.label_map={a: b}"});
  EXPECT_EQ(c.init_from, "");
  EXPECT_EQ(c.eval.patience, 4);
  EXPECT_EQ(c.data.label_map.entries.at("a"), "b");
}

TEST(FinetuneConfig, ResolvedYamlLoadsBackIdentical) {
  const FinetuneConfig c = parse_config<FinetuneConfig>(
      std::string(kMinimal) + "  label_map: {x: y}\n  labels: [y, z]\nclassification: {freeze_layers: 1, head_lr_scale: 3}\n",
      "ft.yaml");
  const FinetuneConfig back = parse_config<FinetuneConfig>(to_yaml(c), "resolved.yaml");
  EXPECT_EQ(c, back);
  EXPECT_EQ(to_yaml(c), to_yaml(back));
}

TEST(FinetuneData, TestFileWithTestFractionZeroSplitsTheRest) {
  ScratchDir scratch;
  const std::filesystem::path config_file = testing::write_toy_finetune(scratch);
  testing::write_text(scratch / "test.jsonl", testing::toy_classification_jsonl(10));
  const FinetuneConfig config =
      load_config<FinetuneConfig>(config_file.string(), {"data.test=" + (scratch / "test.jsonl").string(),
                                                  "data.train_fraction=0.9", "data.val_fraction=0.1",
                                                  "data.test_fraction=0"});
  const FinetuneData data = load_finetune_data(config, scratch / "split.json");
  EXPECT_EQ(data.split.test.size(), 10u);
  EXPECT_EQ(data.split.val.size(), 10u) << "a tenth of the 96 training examples";
  EXPECT_EQ(data.split.train.size(), 86u);
}

TEST(FinetuneCli, TestFileWithTestFractionZeroTrains) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 2);
  testing::write_text(scratch / "test.jsonl", testing::toy_classification_jsonl(10));
  const testing::CliOutcome outcome = testing::run_cli_in_process(
      {"finetune", config.string(), "--set", "data.test=" + (scratch / "test.jsonl").string(), "--set",
       "data.train_fraction=0.9", "--set", "data.val_fraction=0.1", "--set", "data.test_fraction=0"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
}

TEST(FinetuneCli, WarmupAsLongAsADecayingRunExitsTwoNamingTheOverride) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch, 30);
  const testing::CliOutcome outcome = testing::run_cli_in_process(
      {"finetune", config.string(), "--set", "scheduler.name=cosine", "--set", "scheduler.warmup_steps=30"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_NE(outcome.err.find("--set scheduler.warmup_steps=30: scheduler.warmup_steps: must be < train.max_steps (30)"),
            std::string::npos)
      << outcome.err;
  EXPECT_FALSE(std::filesystem::exists(scratch / "ft")) << "refused before the run starts";
}

TEST(FinetuneConfig, MissingInitFromIsACheckpointErrorNamingTheKey) {
  ScratchDir scratch;
  const std::filesystem::path config = testing::write_toy_finetune(scratch);
  try {
    prepare_finetune(testing::finetune_args(config, {"init_from=" + (scratch / "nowhere").string()}));
    FAIL() << "expected an error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("init_from"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nowhere"), std::string::npos) << e.what();
  }
}

TEST(FinetuneConfig, InitFromArchitectureReplacesModelAndRefusesContradictions) {
  ScratchDir scratch;
  const testing::TinyRun pre = testing::write_tiny_run(scratch, 10);
  testing::run_pretraining(pre.config);
  FinetuneConfig config = parse_config<FinetuneConfig>(std::string(kMinimal) + "init_from: " + pre.out_dir.string() +
                                                    "\nmodel: {dropout: 0.2}\n",
                                                "ft.yaml");
  ASSERT_TRUE(resolve_init_from(config, nullptr).has_value());
  EXPECT_EQ(config.model.n_embd, 32);
  EXPECT_EQ(config.model.ctx_len, 32);
  EXPECT_EQ(config.model.dropout, 0.2);

  FinetuneConfig contradicting = parse_config<FinetuneConfig>(
      std::string(kMinimal) + "init_from: " + pre.out_dir.string() + "\nmodel: {n_embd: 64}\n", "ft.yaml");
  try {
    resolve_init_from(contradicting, nullptr);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.n_embd is 64 but the checkpoint's is 32"), std::string::npos)
        << e.what();
  }
}

TEST(FinetuneConfig, InitFromRefusesAGivenKeyEvenWhenItEqualsTheDefault) {
  ScratchDir scratch;
  const testing::TinyRun pre = testing::write_tiny_run(scratch, 10);
  testing::run_pretraining(pre.config);
  const std::string yaml = std::string(kMinimal) + "init_from: " + pre.out_dir.string() + "\nmodel: {n_layer: 4}\n";
  FinetuneConfig config = parse_config<FinetuneConfig>(yaml, "ft.yaml");
  ASSERT_EQ(config.model.n_layer, ModelSection().n_layer) << "the test needs the default value";
  try {
    resolve_init_from(config, nullptr);
    FAIL() << "a 4-layer model.n_layer was replaced by the checkpoint's 2 layers";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("ft.yaml:5:18: model.n_layer is 4 but the checkpoint's is 2"),
              std::string::npos)
        << e.what();
  }

  FinetuneConfig agreeing = parse_config<FinetuneConfig>(yaml, "ft.yaml", {"model.n_layer=2"});
  ASSERT_TRUE(resolve_init_from(agreeing, nullptr).has_value());
  EXPECT_EQ(agreeing.model.n_layer, 2);
}

TEST(FinetuneConfig, InitFromRefusesADisagreeingSetOverrideNamingIt) {
  ScratchDir scratch;
  const testing::TinyRun pre = testing::write_tiny_run(scratch, 10);
  testing::run_pretraining(pre.config);
  const std::filesystem::path config = testing::write_toy_finetune(scratch);
  try {
    prepare_finetune(testing::finetune_args(config, {"init_from=" + pre.out_dir.string(), "model.n_head=4"}));
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--set model.n_head=4: model.n_head is 4 but the checkpoint's is 2"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace tapelm
