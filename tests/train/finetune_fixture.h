// Helpers for the fine-tuning tests: a tiny, trivially separable labeled data set (JSONL),
// a tiny fine-tuning config around it (a model that trains in milliseconds per step), the
// TaskSetup of a task built on examples, running `tapelm finetune` through the library API
// with the log captured, and running a command line in process with its output captured.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "scratch_dir.h"
#include <tapelm/train/cli/cli.h>
#include <tapelm/train/cli/finetune_commands.h>
#include <tapelm/train/cli/training_runs.h>
#include <tapelm/train/tasks/finetune_task.h>

namespace tapelm::testing {

// `n` examples: "good" texts are made of the first word list, "bad" ones of the second, so a
// bag-of-tokens suffices to separate them. Deterministic.
inline std::string toy_classification_jsonl(int n = 96) {
  static const char* const good[] = {"sunny", "happy", "bright", "calm", "warm", "gentle"};
  static const char* const bad[] = {"stormy", "angry", "dark", "loud", "cold", "harsh"};
  uint64_t state = 99;
  const auto next = [&state](uint64_t k) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % k;
  };
  std::string jsonl;
  for (int i = 0; i < n; ++i) {
    const bool positive = i % 2 == 0;
    std::string text;
    const int words = 3 + int(next(4));
    for (int w = 0; w < words; ++w) text += std::string(w ? " " : "") + (positive ? good : bad)[next(6)];
    jsonl += "{\"id\": " + std::to_string(i) + ", \"text\": \"" + text + "\", \"label\": \"" +
             (positive ? "good" : "bad") + "\"}\n";
  }
  return jsonl;
}

// Writes <scratch>/toy.jsonl and <scratch>/finetune.yaml: classification from scratch with a
// 2-layer, 32-wide model, 80/10/10 split, one thread.
inline std::filesystem::path write_toy_finetune(const ScratchDir& scratch, int64_t max_steps = 30,
                                                const std::string& extra = "") {
  write_text(scratch / "toy.jsonl", toy_classification_jsonl());
  const std::filesystem::path config = scratch / "finetune.yaml";
  write_text(config, "out_dir: " + (scratch / "ft").string() + "\nseed: 3\ntask: classification\n" +
                         "model: {n_layer: 2, n_head: 2, n_embd: 32, ctx_len: 32, dropout: 0.1}\n"
                         "tokenizer: {vocab_size: 60, byte_fallback: false, character_coverage: 1.0}\n"
                         "data: {format: jsonl, train: " + (scratch / "toy.jsonl").string() + ", max_len: 16}\n"
                         "optimizer: {lr: 3.0e-3, weight_decay: 0.0}\n"
                         "scheduler: {name: constant, warmup_steps: 0}\n"
                         "train: {max_steps: " + std::to_string(max_steps) +
                         ", batch_size: 8, micro_batch_size: 4, threads: 1}\n"
                         "eval: {interval: 10, batch_size: 16}\n"
                         "logging: {interval: 5}\n"
                         "checkpoint: {interval: 10, keep_last: 0}\n" + extra);
  return config;
}

// A new task's setup: `config`, all `examples` with the training split's `train_indices`,
// `work_dir` for a tokenizer's scratch files (empty when the tokenizer comes from init_from,
// which the caller sets) and `log`. The setup points at its arguments, which must outlive it.
inline TaskSetup task_setup(const FinetuneConfig& config, const std::vector<LabeledExample>& examples,
                            const std::vector<size_t>& train_indices, const std::filesystem::path& work_dir,
                            std::ostream& log) {
  TaskSetup setup;
  setup.config = &config;
  setup.examples = &examples;
  setup.train_indices = &train_indices;
  setup.work_dir = work_dir;
  setup.log = &log;
  return setup;
}

inline FinetuneArgs finetune_args(const std::filesystem::path& config, const std::vector<std::string>& overrides = {},
                                  bool resume = false) {
  FinetuneArgs args;
  args.config_path = config.string();
  args.overrides = overrides;
  args.resume = resume;
  return args;
}

struct FinetuneOutcome {
  TrainResult result;
  std::string log;
};

inline FinetuneOutcome run_finetuning(const std::filesystem::path& config, const std::vector<std::string>& overrides = {},
                                      bool resume = false, int stop_after_polls = 0) {
  const FinetuneRun run = prepare_finetune(finetune_args(config, overrides, resume));
  std::ostringstream log;
  TrainerOptions options;
  options.log = &log;
  int polls = 0;
  if (stop_after_polls > 0) options.stop_requested = [&] { return ++polls >= stop_after_polls; };
  FinetuneOutcome outcome{finetune(run, options), ""};
  outcome.log = log.str();
  return outcome;
}

struct CliOutcome {
  int exit_code;
  std::string out;
  std::string err;
};

// `tapelm ARGS...` run in this process, as the binary's main runs it: its exit code and
// what it printed on stdout and stderr.
inline CliOutcome run_cli_in_process(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"tapelm"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int exit_code = run_cli(static_cast<int>(argv.size()), argv.data());
  std::string out = ::testing::internal::GetCapturedStdout();
  return {exit_code, std::move(out), ::testing::internal::GetCapturedStderr()};
}

}  // namespace tapelm::testing
