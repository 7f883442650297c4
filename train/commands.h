// The tapelm subcommands: one function per command taking its parsed arguments and returning
// the exit code. train/cli.cpp only parses arguments and dispatches here. Errors are thrown:
// InputError/ConfigError for problems the user can fix (exit 2), anything else is exit 1.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "train/checkpoint.h"
#include "train/config.h"
#include "train/run_dir.h"

namespace tapelm {

// pretrain / finetune CONFIG [--set section.key=value ...] [--resume [PATH]]
struct TrainCommandArgs {
  std::string config_path;
  std::vector<std::string> overrides;  // applied in order, after the file
  bool resume = false;
  std::string resume_from;  // a checkpoint or run directory; empty = the config's out_dir
};
using PretrainArgs = TrainCommandArgs;
using FinetuneArgs = TrainCommandArgs;

// check CONFIG [--set section.key=value ...]
struct CheckArgs {
  std::string config_path;
  std::vector<std::string> overrides;
};

// generate --checkpoint DIR --prompt TEXT [...]. Unset options come from the checkpoint's
// config (its `sample` section and `seed`).
struct GenerateArgs {
  std::string checkpoint;
  std::string prompt;
  std::optional<int64_t> max_new_tokens;
  std::optional<double> temperature;
  std::optional<int64_t> top_k;
  std::optional<double> top_p;
  std::optional<int64_t> seed;
};

// Options of eval and predict that replace, for that command only, what the checkpoint's
// config says.
struct InferenceOptions {
  std::optional<int64_t> threads;    // train.threads (0 = all cores)
  std::optional<int64_t> beam_size;  // decode.beam_size, for seq2seq checkpoints
};

// eval --checkpoint DIR (--text FILE | --data FILE) [--threads N] [--beam-size N] [--json]:
// exactly one of text_file and data_file is non-empty.
struct EvalArgs {
  std::string checkpoint;
  std::string text_file;
  std::string data_file;
  InferenceOptions inference;
  bool json = false;  // one JSON object on stdout instead of the text line
};

// predict --checkpoint DIR --input FILE [--output FILE] [--threads N] [--beam-size N];
// empty output = stdout.
struct PredictArgs {
  std::string checkpoint;
  std::string input;
  std::string output;
  InferenceOptions inference;
};

int run_pretrain(const PretrainArgs& args);
int run_finetune(const FinetuneArgs& args);
int run_check(const CheckArgs& args);  // train/check.cpp
int run_generate(const GenerateArgs& args);
int run_eval(const EvalArgs& args);
int run_predict(const PredictArgs& args);

// The validated config, with a model that cannot fit in memory refused before any data work
// (the trainer checks again once the tokenizer, and so the vocabulary, is known).
PretrainConfig load_pretrain_run_config(const std::string& path, const std::vector<std::string>& overrides);

// Everything pretraining does before its first step, for the trainer to build on: loads and
// validates the config, locks out_dir (train/run_dir.h), refuses an out_dir that already
// holds checkpoints unless resuming, and locates (and verifies) the checkpoint to resume
// from. The trainer writes the resolved <out_dir>/config.yaml once it accepted the run.
struct PreparedRun {
  PretrainConfig config;
  std::shared_ptr<const RunLock> lock;  // held while any copy lives; null on ranks other than 0
  std::optional<Checkpoint> resume_from;
  std::vector<std::string> warnings;  // e.g. newer checkpoints skipped as corrupted
};
PreparedRun prepare_pretrain(const PretrainArgs& args);

// What `eval --json` prints for every kind of checkpoint: the evaluated file, the checkpoint,
// its step and the thread count; the caller adds its figures and calls print_json.
nlohmann::ordered_json eval_record(const std::string& file, const Checkpoint& checkpoint, int threads);
// One line on stdout; numbers keep every digit (they read back to the same double), text that
// is not UTF-8 is replaced rather than refused.
void print_json(const nlohmann::ordered_json& record);

// Prints "tapelm: warning: <message>" to stderr.
void print_warning(const std::string& message);

}  // namespace tapelm
