// Bad input to every command, as a table: each row's arguments, the exit code and a part of
// the one-line message. Option values are refused before any file is read, by the same rules
// as the config key they stand for; a row whose value is acceptable gets as far as the
// missing checkpoint, which shows it was taken.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "scratch_dir.h"
#include "tests/train/finetune_fixture.h"
#include <tapelm/train/cli/cli.h>

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

struct BadInput {
  std::vector<std::string> args;
  int exit_code;
  std::string message;  // part of the single "tapelm: error: ..." line
};

void expect_table(const std::vector<BadInput>& table) {
  for (const BadInput& row : table) {
    std::string command;
    for (const std::string& arg : row.args) command += " " + arg;
    const testing::CliOutcome outcome = testing::run_cli_in_process(row.args);
    EXPECT_EQ(outcome.exit_code, row.exit_code) << "tapelm" << command << "\n" << outcome.err;
    EXPECT_NE(outcome.err.find(row.message), std::string::npos) << "tapelm" << command << "\n" << outcome.err;
    EXPECT_EQ(outcome.err.find('\n'), outcome.err.size() - 1) << "tapelm" << command << "\n" << outcome.err;
    EXPECT_EQ(outcome.out, "") << "tapelm" << command;
  }
}

// `option value` appended to `base`.
std::vector<std::string> with(std::vector<std::string> base, const std::string& option, const std::string& value) {
  base.push_back(option);
  base.push_back(value);
  return base;
}

constexpr const char* kInt64Max = "9223372036854775807";
constexpr const char* kPastInt64 = "9223372036854775808";
constexpr const char* kPastUint64 = "99999999999999999999";

TEST(CliBadInput, GenerateRangeChecksEveryOptionLikeItsConfigKey) {
  ScratchDir scratch;
  const std::string nowhere = (scratch / "nowhere").string();
  const std::vector<std::string> generate = {"generate", "--checkpoint", nowhere, "--prompt", "Call me"};
  const std::string missing = nowhere + ": no such checkpoint or run directory";
  expect_table({
      {with(generate, "--max-new-tokens", kInt64Max), 2, missing},
      {with(generate, "--max-new-tokens", kPastInt64), 2,
       std::string("--max-new-tokens: integer '") + kPastInt64 + "' is out of range"},
      {with(generate, "--max-new-tokens", kPastUint64), 2,
       std::string("--max-new-tokens: integer '") + kPastUint64 + "' is out of range"},
      {with(generate, "--max-new-tokens", "-1"), 2, "--max-new-tokens: must be >= 0, got -1"},
      {with(generate, "--max-new-tokens", "1e3"), 2, "--max-new-tokens: expected an integer, got '1e3'"},
      {with(generate, "--max-new-tokens", "2.5"), 2, "--max-new-tokens: expected an integer, got '2.5'"},
      {with(generate, "--top-k", kPastInt64), 2, std::string("--top-k: integer '") + kPastInt64 + "' is out of range"},
      {with(generate, "--top-k", "-5"), 2, "--top-k: must be >= 0, got -5"},
      {with(generate, "--seed", kInt64Max), 2, missing},
      {with(generate, "--seed", kPastInt64), 2, std::string("--seed: integer '") + kPastInt64 + "' is out of range"},
      {with(generate, "--seed", "-1"), 2, "--seed: must be >= 0, got -1"},
      {with(generate, "--temperature", "inf"), 2, "--temperature: expected a finite number, got 'inf'"},
      {with(generate, "--temperature", "-inf"), 2, "--temperature: expected a finite number, got '-inf'"},
      {with(generate, "--temperature", "nan"), 2, "--temperature: expected a finite number, got 'nan'"},
      {with(generate, "--temperature", "1e309"), 2, "--temperature: expected a finite number, got '1e309'"},
      {with(generate, "--temperature", "-1"), 2, "--temperature: must be >= 0, got -1"},
      {with(generate, "--temperature", "warm"), 2, "--temperature: expected a number, got 'warm'"},
      {with(generate, "--top-p", "nan"), 2, "--top-p: expected a finite number, got 'nan'"},
      {with(generate, "--top-p", "0"), 2, "--top-p: must be in (0, 1], got 0"},
      {with(generate, "--top-p", "1.5"), 2, "--top-p: must be in (0, 1], got 1.5"},
  });
}

// --threads, --beam-size and --length-penalty: checked as train.threads, decode.beam_size and
// decode.length_penalty are.
std::vector<BadInput> inference_option_rows(const std::vector<std::string>& command, const std::string& missing) {
  return {
      {with(command, "--threads", kPastInt64), 2, std::string("--threads: integer '") + kPastInt64 + "' is out of range"},
      {with(command, "--threads", kPastUint64), 2,
       std::string("--threads: integer '") + kPastUint64 + "' is out of range"},
      {with(command, "--threads", "-1"), 2, "--threads: must be in [0, 1024]"},
      {with(command, "--threads", "2147483648"), 2, "--threads: must be in [0, 1024]"},
      {with(command, "--threads", "1.5"), 2, "--threads: expected an integer, got '1.5'"},
      {with(command, "--threads", "inf"), 2, "--threads: expected an integer, got 'inf'"},
      {with(command, "--threads", "1"), 2, missing},
      {with(command, "--beam-size", "0"), 2, "--beam-size: must be >= 1, got 0"},
      {with(command, "--beam-size", kPastInt64), 2,
       std::string("--beam-size: integer '") + kPastInt64 + "' is out of range"},
      {with(command, "--beam-size", "nan"), 2, "--beam-size: expected an integer, got 'nan'"},
      {with(command, "--length-penalty", "-0.5"), 2, "--length-penalty: must be >= 0, got -0.5"},
      {with(command, "--length-penalty", "nan"), 2, "--length-penalty: expected a finite number, got 'nan'"},
      {with(command, "--length-penalty", "0.6x"), 2, "--length-penalty: expected a number, got '0.6x'"},
  };
}

TEST(CliBadInput, EvalRangeChecksThreadsBeamSizeAndLengthPenalty) {
  ScratchDir scratch;
  const std::string nowhere = (scratch / "nowhere").string();
  testing::write_text(scratch / "text.txt", "Call me Ishmael.");
  expect_table(inference_option_rows({"eval", "--checkpoint", nowhere, "--text", (scratch / "text.txt").string()},
                                     nowhere + ": no such checkpoint or run directory"));
}

TEST(CliBadInput, PredictRefusesBadNumbersAndOutputsItCannotWrite) {
  ScratchDir scratch;
  const std::string nowhere = (scratch / "nowhere").string();
  const std::string input = (scratch / "in.txt").string();
  testing::write_text(input, "sunny warm\n");
  testing::write_text(scratch / "a_file", "");
  const std::vector<std::string> predict = {"predict", "--checkpoint", nowhere, "--input", input};
  const std::string missing = nowhere + ": no such checkpoint or run directory";
  std::vector<BadInput> table = inference_option_rows(predict, missing);
  const std::string dir = scratch.path().string();
  const std::string in_missing_dir = (scratch / "no_such_dir" / "out.jsonl").string();
  const std::string under_a_file = (scratch / "a_file" / "out.jsonl").string();
  table.push_back({with(predict, "--output", dir), 2, "--output " + dir + ": is a directory, expected a file"});
  table.push_back({with(predict, "--output", in_missing_dir), 2,
                   "--output " + in_missing_dir + ": directory " + (scratch / "no_such_dir").string() +
                       " does not exist"});
  table.push_back({with(predict, "--output", under_a_file), 2,
                   "--output " + under_a_file + ": " + (scratch / "a_file").string() + " is not a directory"});
  table.push_back({with(predict, "--output", (scratch / "out.jsonl").string()), 2, missing});
  expect_table(table);
  EXPECT_FALSE(fs::exists(scratch / "out.jsonl"));
}

TEST(CliBadInput, PretrainAndFinetuneRefuseBadConfigsAndOverrides) {
  ScratchDir scratch;
  testing::write_text(scratch / "run.yaml", "out_dir: " + (scratch / "run").string() + "\ndata: {train: a.txt}\n");
  testing::write_text(scratch / "ft.yaml", "out_dir: " + (scratch / "ft").string() +
                                               "\ntask: classification\ndata: {format: jsonl, train: a.jsonl}\n");
  const std::string missing_config = (scratch / "none.yaml").string();
  std::vector<BadInput> table;
  for (const std::string command : {"pretrain", "finetune"}) {
    const std::string config = (scratch / (command == "pretrain" ? "run.yaml" : "ft.yaml")).string();
    const std::vector<std::string> run = {command, config};
    table.insert(table.end(), {
        {{command, missing_config}, 2, missing_config + ": config file not found"},
        {{command, scratch.path().string()}, 2, ": is a directory, expected a YAML config file"},
        {with(run, "--set", std::string("train.max_steps=") + kPastInt64), 2,
         std::string("--set train.max_steps=") + kPastInt64 + ": train.max_steps: integer '" + kPastInt64 +
             "' is out of range"},
        {with(run, "--set", "seed=-1"), 2, "--set seed=-1: seed: must be >= 0, got -1"},
        {with(run, "--set", "optimizer.lr=inf"), 2,
         "--set optimizer.lr=inf: optimizer.lr: expected a finite number, got 'inf'"},
        {with(run, "--set", "optimizer.lr=nan"), 2,
         "--set optimizer.lr=nan: optimizer.lr: expected a finite number, got 'nan'"},
        {with(run, "--set", "model.norm_eps=1e-50"), 2,
         "--set model.norm_eps=1e-50: model.norm_eps: must be a positive float (a 32-bit float above 0), got 1e-50"},
        {with(run, "--set", "model.rope_base=1e39"), 2,
         "model.rope_base: must be a positive float (a 32-bit float above 0), got 1e+39"},
        {with(run, "--set", "model.gelu_approximation=erf"), 2,
         "model.gelu_approximation: must be one of tanh, none, got 'erf'"},
        {with(run, "--set", "out_dir=" + config), 2, "out_dir " + config + ": cannot be used as the run's folder"},
        {with(run, "--set", "train.threads=2147483648"), 2, "train.threads: must be"},
        {with(run, "--set", "tokenizer.vocab_size=4294967696"), 2, "tokenizer.vocab_size: must be in"},
        {{command, config, "--resume", (scratch / "nowhere").string()}, 2,
         "--resume: " + (scratch / "nowhere").string() + ": no such checkpoint or run directory"},
    });
  }
  expect_table(table);
  EXPECT_FALSE(fs::exists(scratch / "run"));
  EXPECT_FALSE(fs::exists(scratch / "ft"));
}

}  // namespace
}  // namespace tapelm
