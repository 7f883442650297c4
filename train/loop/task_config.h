// The config file of a task defined outside the library (a TrainingTask of one's own,
// train/loop/training_task.h): every key of a tapelm config (RunConfig: out_dir, seed, model,
// tokenizer, optimizer, scheduler, train, eval, logging, checkpoint) plus one section of the
// task's own, whose keys the caller's SectionSchema defines. Loading validates as the tapelm
// commands do: unknown keys with the nearest valid one, types, ranges, the rules over the
// shared sections, `--set` overrides, errors as ConfigError naming file:line:column.
// examples/custom_task shows it end to end.
#pragma once

#include <string>
#include <vector>

#include <tapelm/train/config/config_schema.h>
#include <tapelm/train/config/run_config.h>
#include <tapelm/train/loop/run_task.h>
#include <tapelm/train/loop/training_loop.h>

namespace tapelm {

template <class TaskSection>
struct TaskConfig {
  RunConfig run;     // the keys every config has
  TaskSection task;  // the task's own section
  LoopConfig loop;   // what run_task takes: run's loop sections, with the resolved file as config_yaml
};

namespace task_config_detail {

template <class TaskSection>
struct File : RunConfig {
  TaskSection task;
};

}  // namespace task_config_detail

// Loads `path` with `overrides` ("section.key=value", applied in order after the file), the
// task's keys in section `section`. Throws ConfigError.
template <class TaskSection>
TaskConfig<TaskSection> load_task_config(const std::string& path, const std::string& section,
                                         const SectionSchema<TaskSection>& task_keys,
                                         const std::vector<std::string>& overrides = {}) {
  using F = task_config_detail::File<TaskSection>;
  ConfigSchema<F> schema;
  schema.top_level(run_top_level_schema<F>());
  add_model_sections(schema).section(section, &F::task, task_keys);
  add_training_sections(schema);
  const F file = schema.load_file(path, overrides);
  const std::string resolved = schema.to_yaml(file, "resolved config: every key with the value the run used.");
  return {file, file.task, loop_config(file, resolved)};
}

}  // namespace tapelm
