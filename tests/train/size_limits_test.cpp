// Bad-input table for sizes: every integer config key whose value lands in a narrower type
// (or a narrower format) is accepted at its limit and refused just past it, naming the key
// and where the value came from; absurd model sizes are refused by the memory check before
// anything is allocated. Run through config loading and through the command line
// (in-process), which must exit 2.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "scratch_dir.h"
#include <tapelm/train/cli/cli.h>
#include <tapelm/train/config/pretrain_config.h>
#include <tapelm/train/config/finetune_config.h>

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ScratchDir;
using testing::write_text;

struct Limit {
  std::string command;  // pretrain | finetune
  std::string key;
  int64_t max;          // the largest value accepted
};

// Keys narrower than the int64 every config integer is read as.
const std::vector<Limit> kLimits = {
    {"pretrain", "tokenizer.vocab_size", 2147483647},  // token ids are int32
    {"pretrain", "train.threads", 1024},               // an int; thread creation fails far earlier
    {"pretrain", "train.max_steps", 99999999},         // checkpoint names: step_<8 digits>
    {"finetune", "tokenizer.vocab_size", 2147483647},
    {"finetune", "target_tokenizer.vocab_size", 2147483647},
    {"finetune", "train.threads", 1024},
    {"finetune", "train.max_steps", 99999999},
};

std::string pretrain_yaml(const ScratchDir& scratch) {
  return "out_dir: " + (scratch / "run").string() + "\ndata: {train: corpus.txt}\n";
}
std::string finetune_yaml(const ScratchDir& scratch) {
  return "out_dir: " + (scratch / "run").string() + "\ntask: seq2seq\ndata: {train: examples.jsonl}\n";
}

// Loads the command's config with `--set key=value`; "" if accepted, else the error.
std::string load_error(const ScratchDir& scratch, const Limit& limit, const std::string& value) {
  const std::vector<std::string> overrides = {limit.key + "=" + value};
  try {
    if (limit.command == "pretrain") {
      parse_config<PretrainConfig>(pretrain_yaml(scratch), "run.yaml", overrides);
    } else {
      parse_config<FinetuneConfig>(finetune_yaml(scratch), "run.yaml", overrides);
    }
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

struct CliOutcome {
  int exit_code;
  std::string err;
};

CliOutcome run_cli_in_process(std::vector<std::string> args) {
  args.insert(args.begin(), "tapelm");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  ::testing::internal::CaptureStderr();
  const int code = run_cli(int(argv.size()), argv.data());
  return {code, ::testing::internal::GetCapturedStderr()};
}

std::string config_file(const ScratchDir& scratch, const std::string& command) {
  const fs::path path = scratch / (command + ".yaml");
  write_text(path, command == "pretrain" ? pretrain_yaml(scratch) : finetune_yaml(scratch));
  return path.string();
}

TEST(SizeLimits, EachNarrowKeyIsAcceptedAtItsLimitAndRefusedPastItNamingTheOverride) {
  ScratchDir scratch;
  for (const Limit& limit : kLimits) {
    SCOPED_TRACE(limit.command + " " + limit.key);
    EXPECT_EQ(load_error(scratch, limit, std::to_string(limit.max)), "");
    const std::string past = std::to_string(limit.max + 1);
    EXPECT_THAT(load_error(scratch, limit, past),
                HasSubstr("--set " + limit.key + "=" + past + ": " + limit.key + ": must be in ["));
    EXPECT_THAT(load_error(scratch, limit, past), HasSubstr(", " + std::to_string(limit.max) + "] ("));
  }
}

TEST(SizeLimits, EveryPastTheLimitValueExitsTwoFromTheCommandLine) {
  ScratchDir scratch;
  for (const Limit& limit : kLimits) {
    const std::vector<std::string> past = {std::to_string(limit.max + 1), "4294967696", "9223372036854775807",
                                           "9223372036854775808"};
    for (const std::string& value : past) {
      SCOPED_TRACE(limit.command + " --set " + limit.key + "=" + value);
      const CliOutcome outcome =
          run_cli_in_process({limit.command, config_file(scratch, limit.command), "--set", limit.key + "=" + value});
      EXPECT_EQ(outcome.exit_code, kExitBadInput);
      EXPECT_THAT(outcome.err, HasSubstr("tapelm: error: --set " + limit.key + "=" + value + ": " + limit.key + ": "));
    }
  }
}

TEST(SizeLimits, AValuePastTheLimitInTheFileIsNamedByLineAndColumn) {
  ScratchDir scratch;
  const std::string text = pretrain_yaml(scratch) + "tokenizer:\n  vocab_size: 4294967696\n";
  try {
    parse_config<PretrainConfig>(text, "run.yaml");
    ADD_FAILURE() << "vocab_size 4294967696 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "run.yaml:4:15: tokenizer.vocab_size: must be in [8, 2147483647] (token ids are 32-bit ints), got "
              "4294967696");
  }
}

TEST(SizeLimits, TheTokensOfAWholeRunMustFitTheirCounter) {
  ScratchDir scratch;
  const std::vector<std::string> at = {"train.batch_size=" + std::to_string(INT64_MAX / 128 / 1000),
                                       "train.micro_batch_size=1", "train.max_steps=1000"};
  EXPECT_NO_THROW(parse_config<PretrainConfig>(pretrain_yaml(scratch), "run.yaml", at));
  const std::string past = "train.max_steps=1001";
  const CliOutcome outcome =
      run_cli_in_process({"pretrain", config_file(scratch, "pretrain"), "--set", at[0], "--set", at[1], "--set", past});
  EXPECT_EQ(outcome.exit_code, kExitBadInput);
  EXPECT_THAT(outcome.err, HasSubstr(": train.batch_size: x model.ctx_len x train.max_steps must fit the 64-bit count"));
}

TEST(SizeLimits, ModelsTooLargeForTheMachineExitTwoBeforeAnythingIsAllocated) {
  ScratchDir scratch;
  const std::string config = config_file(scratch, "pretrain");  // its corpus does not even exist
  const std::vector<std::vector<std::string>> absurd = {
      {"model.ffn_hidden=576460752303423488", "model.bias=false"},  // 2^59 x 128 elements per matrix
      {"model.n_layer=1000000000"},
      {"model.ctx_len=1000000000000"},
      {"model.n_embd=4294967296", "model.n_head=1"},
      {"train.micro_batch_size=100000000000", "train.batch_size=100000000000"},
      {"tokenizer.vocab_size=2147483647"},
  };
  for (const std::vector<std::string>& overrides : absurd) {
    std::vector<std::string> args = {"pretrain", config};
    for (const std::string& assignment : overrides) args.insert(args.end(), {"--set", assignment});
    SCOPED_TRACE(overrides.front());
    const CliOutcome outcome = run_cli_in_process(args);
    EXPECT_EQ(outcome.exit_code, kExitBadInput);
    EXPECT_THAT(outcome.err, HasSubstr("tapelm: error: " + config + " needs at least "));
    EXPECT_THAT(outcome.err, HasSubstr("--set train.memory_check=false"));
    EXPECT_FALSE(fs::exists(scratch / "run")) << "nothing is written for a refused run";
  }
  const std::string finetune = config_file(scratch, "finetune");  // nor do its examples
  for (const char* assignment : {"model.n_layer=1000000000", "seq2seq.n_decoder_layer=1000000000"}) {
    SCOPED_TRACE(assignment);
    const CliOutcome outcome = run_cli_in_process({"finetune", finetune, "--set", std::string(assignment)});
    EXPECT_EQ(outcome.exit_code, kExitBadInput);
    EXPECT_THAT(outcome.err, HasSubstr("tapelm: error: " + finetune + " needs at least "));
    EXPECT_FALSE(fs::exists(scratch / "run"));
  }
}

}  // namespace
}  // namespace tapelm
