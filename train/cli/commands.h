// The tapelm subcommands: one function per command taking its parsed arguments and returning
// the exit code. train/cli/cli.cpp only parses arguments and dispatches here. Errors are thrown:
// InputError/ConfigError for problems the user can fix (exit 2), anything else is exit 1.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/config/pretrain_config.h>
#include <tapelm/train/cli/training_runs.h>

namespace tapelm {

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
  std::optional<double> length_penalty;  // decode.length_penalty, for seq2seq checkpoints

  // The first option given that only a seq2seq model's decoding uses ("--beam-size",
  // "--length-penalty"), or "" when there is none.
  std::string decoding_option() const {
    if (beam_size) return "--beam-size";
    if (length_penalty) return "--length-penalty";
    return "";
  }
};

// eval --checkpoint DIR (--text FILE | --data FILE) [--threads N] [--beam-size N] [--length-penalty X] [--json]:
// exactly one of text_file and data_file is non-empty.
struct EvalArgs {
  std::string checkpoint;
  std::string text_file;
  std::string data_file;
  InferenceOptions inference;
  bool json = false;  // one JSON object on stdout instead of the text line
};

// predict --checkpoint DIR --input FILE [--output FILE] [--threads N] [--beam-size N] [--length-penalty X];
// empty output = stdout.
struct PredictArgs {
  std::string checkpoint;
  std::string input;
  std::string output;
  InferenceOptions inference;
};

// average --output DIR (CHECKPOINT... | --last N RUN_DIR): the mean of several checkpoints'
// weights as a new checkpoint (train/checkpoint/average_checkpoints.h).
struct AverageArgs {
  std::vector<std::string> checkpoints;  // checkpoint or run directories; with --last, one run directory
  std::optional<int64_t> last;           // the N newest checkpoints of the one run directory
  std::string output;
};

int run_pretrain(const PretrainArgs& args);
int run_finetune(const FinetuneArgs& args);
int run_check(const CheckArgs& args);  // train/cli/check.cpp
int run_generate(const GenerateArgs& args);
int run_eval(const EvalArgs& args);
int run_predict(const PredictArgs& args);
int run_average(const AverageArgs& args);

// What `eval --json` prints for every kind of checkpoint: the evaluated file, the checkpoint,
// its step and the thread count; the caller adds its figures and calls print_json.
nlohmann::ordered_json eval_record(const std::string& file, const Checkpoint& checkpoint, int threads);
// One line on stdout; numbers keep every digit (they read back to the same double), text that
// is not UTF-8 is replaced rather than refused.
void print_json(const nlohmann::ordered_json& record);

// Prints "tapelm: warning: <message>" to stderr.
void print_warning(const std::string& message);

}  // namespace tapelm
