// The config file of a task defined outside the library (a TrainingTask of one's own,
// train/loop/training_task.h): the keys the training loop reads, as in `tapelm pretrain` and
// `tapelm finetune` configs (out_dir, seed, optimizer, scheduler, train, eval, logging,
// checkpoint), plus one section of the task's own whose keys the caller's SectionSchema
// defines. Loading validates like the tapelm commands do: unknown keys with the nearest valid
// one, types, ranges, the cross-key rules of the shared sections, `--set` overrides, errors
// as ConfigError naming file:line:column. examples/custom_task shows it end to end.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "train/config/config.h"
#include "train/config/config_schema.h"
#include "train/loop/training_loop.h"

namespace tapelm {

// The loop's sections of any config that has them (PretrainConfig, FinetuneConfig, a task's
// file), with its resolved YAML (written to <out_dir>/config.yaml and every checkpoint).
template <class Config>
LoopConfig loop_sections(const Config& config, std::string resolved_yaml) {
  LoopConfig loop;
  loop.out_dir = config.out_dir;
  loop.config_yaml = std::move(resolved_yaml);
  loop.optimizer = config.optimizer;
  loop.scheduler = config.scheduler;
  loop.train = config.train;
  loop.eval_interval = config.eval.interval;
  loop.eval_metric = config.eval.metric;
  loop.patience = config.eval.patience;
  loop.logging = config.logging;
  loop.checkpoint = config.checkpoint;
  return loop;
}

template <class TaskSection>
struct TaskConfig {
  int64_t seed = 1337;  // the file's `seed`
  TaskSection task;     // the task's own section
  LoopConfig loop;      // out_dir and the loop's sections; loop.config_yaml is the resolved file
};

namespace task_config_detail {

// The file: the top-level keys, the task's section and the loop's sections.
template <class TaskSection>
struct File {
  std::string out_dir;
  int64_t seed = 1337;
  TaskSection task;
  OptimizerSection optimizer;
  SchedulerSection scheduler;
  TrainSection train;
  EvalSection eval;
  LoggingSection logging;
  CheckpointSection checkpoint;
};

template <class TaskSection>
ConfigSchema<File<TaskSection>> schema(const std::string& section, const SectionSchema<TaskSection>& task_keys) {
  using F = File<TaskSection>;
  SectionSchema<F> top;
  top.add_required("out_dir", &F::out_dir, non_empty<std::string>()).add("seed", &F::seed, at_least(0));
  ConfigSchema<F> result;
  result.top_level(top)
      .section(section, &F::task, task_keys)
      .section("optimizer", &F::optimizer, optimizer_section_schema())
      .section("scheduler", &F::scheduler, scheduler_section_schema())
      .section("train", &F::train, train_section_schema())
      .section("eval", &F::eval, eval_section_schema())
      .section("logging", &F::logging, logging_section_schema())
      .section("checkpoint", &F::checkpoint, checkpoint_section_schema());
  result.resolver([](F& f) {
    if (f.train.micro_batch_size == 0) f.train.micro_batch_size = f.train.batch_size;
  });
  result.rule([](const F& f, const RuleContext& context) {
    check_train_rules(f.train, context);
    check_schedule_rules(f.optimizer, f.scheduler, f.train, context);
  });
  return result;
}

}  // namespace task_config_detail

// Loads `path` with `overrides` ("section.key=value", applied in order after the file), the
// task's keys in section `section`. Throws ConfigError.
template <class TaskSection>
TaskConfig<TaskSection> load_task_config(const std::string& path, const std::string& section,
                                         const SectionSchema<TaskSection>& task_keys,
                                         const std::vector<std::string>& overrides = {}) {
  const auto schema = task_config_detail::schema(section, task_keys);
  const auto file = schema.load_file(path, overrides);
  TaskConfig<TaskSection> config;
  config.seed = file.seed;
  config.task = file.task;
  config.loop = loop_sections(file, schema.to_yaml(file, "resolved config: every key with the value the run used."));
  return config;
}

}  // namespace tapelm
