// The fine-tuning config: key tables, errors with origins and suggestions, derived values,
// the resolved YAML round trip, and init_from resolution.
#include <gtest/gtest.h>

#include "tests/train/finetune_fixture.h"
#include "tests/train/tiny_run.h"
#include "train/finetune_checkpoint.h"
#include "train/finetune_config.h"

namespace tapelm {
namespace {

using testing::ScratchDir;

const char* const kMinimal = "out_dir: runs/x\ndata:\n  train: a.jsonl\n";

std::string config_error(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_finetune_config(yaml, "ft.yaml", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(FinetuneConfig, MinimalConfigTakesDefaults) {
  const FinetuneConfig c = parse_finetune_config(kMinimal, "ft.yaml");
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

TEST(FinetuneConfig, FoldersFormatOnlyForClassification) {
  const std::string message = config_error(std::string(kMinimal) + "  format: folders\ntask: completion\n");
  EXPECT_NE(message.find("data.format"), std::string::npos) << message;
}

TEST(FinetuneConfig, LabelMapReadsAMappingAndRejectsAList) {
  const FinetuneConfig c =
      parse_finetune_config(std::string(kMinimal) + "  label_map: {spam-1: spam, spam-2: spam, easy-ham-1: ham}\n", "ft.yaml");
  EXPECT_EQ(c.data.label_map.entries.size(), 3u);
  EXPECT_EQ(c.data.label_map.entries.at("spam-2"), "spam");
  const std::string message = config_error(std::string(kMinimal) + "  label_map: [a, b]\n");
  EXPECT_NE(message.find("data.label_map"), std::string::npos) << message;
  EXPECT_NE(message.find("mapping"), std::string::npos) << message;
}

TEST(FinetuneConfig, SetOverridesApplyIncludingAnEmptyInitFrom) {
  const FinetuneConfig c = parse_finetune_config(std::string(kMinimal) + "init_from: runs/pre\n", "ft.yaml",
                                                 {"init_from=", "eval.patience=4", "data.label_map={a: b}"});
  EXPECT_EQ(c.init_from, "");
  EXPECT_EQ(c.eval.patience, 4);
  EXPECT_EQ(c.data.label_map.entries.at("a"), "b");
}

TEST(FinetuneConfig, ResolvedYamlLoadsBackIdentical) {
  const FinetuneConfig c = parse_finetune_config(
      std::string(kMinimal) + "  label_map: {x: y}\n  labels: [y, z]\nclassification: {freeze_layers: 1, head_lr_scale: 3}\n",
      "ft.yaml");
  const FinetuneConfig back = parse_finetune_config(to_yaml(c), "resolved.yaml");
  EXPECT_EQ(c, back);
  EXPECT_EQ(to_yaml(c), to_yaml(back));
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
  FinetuneConfig config = parse_finetune_config(std::string(kMinimal) + "init_from: " + pre.out_dir.string() +
                                                    "\nmodel: {dropout: 0.2}\n",
                                                "ft.yaml");
  ASSERT_TRUE(resolve_init_from(config, nullptr).has_value());
  EXPECT_EQ(config.model.n_embd, 32);
  EXPECT_EQ(config.model.ctx_len, 32);
  EXPECT_EQ(config.model.dropout, 0.2);

  FinetuneConfig contradicting = parse_finetune_config(
      std::string(kMinimal) + "init_from: " + pre.out_dir.string() + "\nmodel: {n_embd: 64}\n", "ft.yaml");
  try {
    resolve_init_from(contradicting, nullptr);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.n_embd is 64 but the checkpoint's is 32"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace tapelm
