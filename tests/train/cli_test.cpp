// Tests for the tapelm command line, run as a separate process: help, exit codes (0 ok,
// 2 bad usage/config/input, 1 other failures) and one-line error messages on stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "tests/train/scratch_dir.h"
#include "train/checkpoint.h"
#include "train/config.h"

namespace tapelm {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::ScratchDir;
using testing::write_text;

struct Outcome {
  int exit_code;
  std::string out;
  std::string err;
};

std::string shell_quote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Runs the built tapelm binary with `args`, capturing stdout and stderr separately.
Outcome run_tapelm(const ScratchDir& scratch, const std::vector<std::string>& args) {
  const fs::path binary = fs::path(TAPELM_BINARY_DIR) / "tapelm";
  EXPECT_TRUE(fs::exists(binary)) << binary << " is missing: build the 'tapelm' target before test_train";
  std::string command = shell_quote(binary.string());
  for (const std::string& arg : args) command += " " + shell_quote(arg);
  const fs::path out = scratch / "stdout.txt";
  const fs::path err = scratch / "stderr.txt";
  command += " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string()) + " </dev/null";
  const int status = std::system(command.c_str());
  EXPECT_TRUE(WIFEXITED(status)) << "tapelm did not exit normally (status " << status << ")";
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(out), read_text(err)};
}

// Exactly one line on stderr, "tapelm: error: <message>".
void expect_one_error_line(const Outcome& outcome, const std::string& message) {
  EXPECT_EQ(outcome.err, "tapelm: error: " + message + "\n");
}

std::string minimal_config(const ScratchDir& scratch) {
  const fs::path path = scratch / "run.yaml";
  write_text(path, "out_dir: " + (scratch / "run").string() + "\ndata:\n  train: data/*.txt\n");
  return path.string();
}

TEST(Cli, HelpListsEveryCommandAndExitsZero) {
  ScratchDir scratch;
  const Outcome help = run_tapelm(scratch, {"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.err, "");
  for (const char* command : {"pretrain", "finetune", "generate", "eval", "predict"}) {
    EXPECT_NE(help.out.find(command), std::string::npos) << command;
  }
  EXPECT_EQ(run_tapelm(scratch, {"--version"}).out, "tapelm 0.1.0\n");
}

TEST(Cli, EachCommandDescribesItsOptions) {
  ScratchDir scratch;
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"pretrain", {"CONFIG", "--set", "--resume"}},
      {"finetune", {"CONFIG", "--set", "--resume"}},
      {"generate", {"--checkpoint", "--prompt", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--seed"}},
      {"eval", {"--checkpoint", "--text", "--data"}},
      {"predict", {"--checkpoint", "--input", "--output"}}};
  for (const auto& [command, options] : expected) {
    const Outcome help = run_tapelm(scratch, {command, "--help"});
    EXPECT_EQ(help.exit_code, 0) << command;
    for (const std::string& option : options) EXPECT_NE(help.out.find(option), std::string::npos) << command << " " << option;
  }
}

TEST(Cli, BadUsageExitsTwoWithOneLine) {
  ScratchDir scratch;
  Outcome o = run_tapelm(scratch, {});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "A subcommand is required (see 'tapelm --help')");

  o = run_tapelm(scratch, {"genrate"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "unknown command 'genrate' (did you mean 'generate'?) (see 'tapelm --help')");

  o = run_tapelm(scratch, {"pretrain"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "config is required (see 'tapelm pretrain --help')");

  o = run_tapelm(scratch, {"pretrain", "x.yaml", "--bogus"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "The following argument was not expected: --bogus (see 'tapelm pretrain --help')");

  o = run_tapelm(scratch, {"eval", "--checkpoint", "c"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "Exactly 1 option from [--text,--data] is required (see 'tapelm eval --help')");

  o = run_tapelm(scratch, {"generate", "--checkpoint", "c", "--prompt", "hi", "--top-p", "1.5"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "--top-p: must be in (0, 1], got 1.5 (see 'tapelm generate --help')");

  o = run_tapelm(scratch, {"generate", "--checkpoint", "c", "--prompt", "hi", "--temperature", "-1"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "--temperature: must be >= 0, got -1 (see 'tapelm generate --help')");
  EXPECT_EQ(o.out, "");
}

TEST(Cli, ConfigErrorsExitTwo) {
  ScratchDir scratch;
  const std::string missing = (scratch / "missing.yaml").string();
  Outcome o = run_tapelm(scratch, {"pretrain", missing});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, missing + ": config file not found");

  const std::string config = minimal_config(scratch);
  o = run_tapelm(scratch, {"pretrain", config, "--set", "optimizer.lrr=3e-4"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "--set optimizer.lrr=3e-4: unknown key 'lrr' in section 'optimizer' (did you mean 'lr'?)");

  write_text(config, read_text(config) + "model:\n  n_head: five\n");
  o = run_tapelm(scratch, {"pretrain", config});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, config + ":5:11: model.n_head: expected an integer, got 'five'");
  EXPECT_FALSE(fs::exists(scratch / "run")) << "nothing is created for an invalid config";
}

TEST(Cli, PretrainWritesTheResolvedConfigThenReportsTheMissingTrainer) {
  ScratchDir scratch;
  const std::string config = minimal_config(scratch);
  // --set given before and after CONFIG; each takes exactly one value.
  const Outcome o = run_tapelm(scratch, {"pretrain", "--set", "model.n_layer=2", config, "--set", "optimizer.lr=3e-4"});
  EXPECT_EQ(o.exit_code, 1);
  const fs::path written = scratch / "run/config.yaml";
  expect_one_error_line(o, "pretrain: not implemented yet: needs the trainer and models, which come next (the "
                           "resolved config was written to " + written.string() + ")");
  ASSERT_TRUE(fs::exists(written));
  EXPECT_EQ(load_pretrain_config(written.string()),
            load_pretrain_config(config, {"model.n_layer=2", "optimizer.lr=3e-4"}));
}

TEST(Cli, PretrainRefusesToMixRunsWithoutResume) {
  ScratchDir scratch;
  const std::string config = minimal_config(scratch);
  write_checkpoint(scratch / "run", 100, {CheckpointFile::from_bytes("weights.safetensors", "w")});
  const Outcome o = run_tapelm(scratch, {"pretrain", config});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, (scratch / "run").string() + ": already holds checkpoints from an earlier run; pass --resume "
                           "to continue it, or choose another out_dir (--set out_dir=...)");
}

TEST(Cli, ResumeSkipsACorruptedCheckpointWithAWarning) {
  ScratchDir scratch;
  const std::string config = minimal_config(scratch);
  const fs::path run = scratch / "run";
  write_checkpoint(run, 100, {CheckpointFile::from_bytes("weights.safetensors", "good")});
  write_checkpoint(run, 200, {CheckpointFile::from_bytes("weights.safetensors", "bad!")});
  write_text(run / "checkpoints/step_00000200/weights.safetensors", "BAD!");

  const Outcome o = run_tapelm(scratch, {"pretrain", config, "--resume"});
  EXPECT_EQ(o.exit_code, 1);  // the trainer is not there yet; the resume target was accepted
  const std::string warning = "tapelm: warning: " + (run / "checkpoints/step_00000200/weights.safetensors").string() +
                              ": checksum mismatch (file corrupted?); skipped step_00000200\n";
  EXPECT_EQ(o.err.rfind(warning, 0), 0u) << o.err;

  const Outcome nothing = run_tapelm(scratch, {"pretrain", config, "--set", "out_dir=" + (scratch / "new").string(), "--resume"});
  EXPECT_EQ(nothing.exit_code, 2);
  expect_one_error_line(nothing, "--resume: " + (scratch / "new").string() + " has no checkpoints to resume from");
}

TEST(Cli, CheckpointCommandsRejectBadCheckpointsWithExitTwo) {
  ScratchDir scratch;
  const std::string nowhere = (scratch / "nowhere").string();
  Outcome o = run_tapelm(scratch, {"generate", "--checkpoint", nowhere, "--prompt", "Call me"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, nowhere + ": no such checkpoint or run directory");

  const fs::path run = scratch / "run";
  write_checkpoint(run, 100, {CheckpointFile::from_bytes("weights.safetensors", "w")});
  fs::resize_file(run / "checkpoints/step_00000100/weights.safetensors", 0);
  const std::string text = (scratch / "text.txt").string();
  write_text(text, "some text");
  o = run_tapelm(scratch, {"eval", "--checkpoint", (run / "checkpoints/step_00000100").string(), "--text", text});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, (run / "checkpoints/step_00000100/weights.safetensors").string() +
                               ": size is 0 bytes, manifest.json says 1 (file truncated?)");

  o = run_tapelm(scratch, {"predict", "--checkpoint", run.string(), "--input", (scratch / "none.txt").string()});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "--input " + (scratch / "none.txt").string() + ": file not found");
}

}  // namespace
}  // namespace tapelm
