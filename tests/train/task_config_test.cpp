// A config file for a task defined outside the library (train/loop/task_config.h): the keys of
// every tapelm config, plus a section the caller's schema defines.
#include <tapelm/train/loop/task_config.h>

#include <gtest/gtest.h>

#include "scratch_dir.h"

namespace tapelm {
namespace {

using testing::ScratchDir;
using testing::write_text;

struct ToySection {
  int64_t width = 8;
  std::string mode = "fast";
};

SectionSchema<ToySection> toy_keys() {
  SectionSchema<ToySection> keys;
  keys.add("width", &ToySection::width, at_least(1)).add("mode", &ToySection::mode, one_of({"fast", "slow"}));
  return keys;
}

TEST(TaskConfig, ReadsTheTasksSectionAndTheLoopsSections) {
  ScratchDir dir;
  write_text(dir / "run.yaml",
             "out_dir: runs/toy\nseed: 7\nmodel: {n_embd: 64}\ntoy: {width: 16}\noptimizer: {lr: 0.01}\n"
             "train: {max_steps: 20, batch_size: 8}\neval: {interval: 5, metric: mse, patience: 2}\n");
  const TaskConfig<ToySection> config = load_task_config(dir.file("run.yaml"), "toy", toy_keys(), {"toy.mode=slow"});
  EXPECT_EQ(config.run.seed, 7);
  EXPECT_EQ(config.task.width, 16);
  EXPECT_EQ(config.task.mode, "slow");
  EXPECT_EQ(config.run.model.n_embd, 64);
  EXPECT_EQ(config.loop.out_dir, "runs/toy");
  EXPECT_DOUBLE_EQ(config.loop.optimizer.lr, 0.01);
  EXPECT_EQ(config.loop.train.max_steps, 20);
  EXPECT_EQ(config.loop.train.micro_batch_size, 8);  // defaults to batch_size, as in every config
  EXPECT_EQ(config.loop.eval_interval, 5);
  EXPECT_EQ(config.loop.eval_metric, "mse");
  EXPECT_EQ(config.loop.patience, 2);
}

TEST(TaskConfig, ResolvedYamlLoadsBackToTheSameConfig) {
  ScratchDir dir;
  write_text(dir / "run.yaml", "out_dir: runs/toy\ntoy: {width: 3}\ntrain: {max_steps: 20}\n");
  const TaskConfig<ToySection> first = load_task_config(dir.file("run.yaml"), "toy", toy_keys());
  write_text(dir / "resolved.yaml", first.loop.config_yaml);
  const TaskConfig<ToySection> again = load_task_config(dir.file("resolved.yaml"), "toy", toy_keys());
  EXPECT_EQ(again.task.width, 3);
  EXPECT_EQ(again.loop.train.max_steps, 20);
  EXPECT_EQ(again.loop.config_yaml, first.loop.config_yaml);
  EXPECT_NE(first.loop.config_yaml.find("width: 3"), std::string::npos) << first.loop.config_yaml;
}

TEST(TaskConfig, NamesAMistypedKeyOfTheTasksSectionWithTheNearestOne) {
  ScratchDir dir;
  write_text(dir / "run.yaml", "out_dir: runs/toy\ntoy:\n  widht: 3\n");
  try {
    load_task_config(dir.file("run.yaml"), "toy", toy_keys());
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("run.yaml:3:3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("did you mean 'width'"), std::string::npos) << e.what();
  }
}

TEST(TaskConfig, AppliesTheLoopsCrossKeyRules) {
  ScratchDir dir;
  write_text(dir / "run.yaml", "out_dir: runs/toy\ntrain: {max_steps: 10}\nscheduler: {warmup_steps: 10}\n");
  EXPECT_THROW(load_task_config(dir.file("run.yaml"), "toy", toy_keys()), ConfigError);
}

}  // namespace
}  // namespace tapelm
