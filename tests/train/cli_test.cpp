// Tests for the tapelm command line, run as a separate process: help, exit codes (0 ok,
// 2 bad usage/config/input, 1 other failures) and one-line error messages on stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include <tapelm/autograd/gemm_backend.h>
#include "scratch_dir.h"
#include "tests/train/tiny_run.h"
#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/config/pretrain_config.h>
#include <tapelm/train/checkpoint/run_dir.h>

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

// Runs the built tapelm binary with `args` (and `env`, "NAME=value" words, in its
// environment), capturing stdout and stderr separately.
Outcome run_tapelm(const ScratchDir& scratch, const std::vector<std::string>& args, const std::string& env = "") {
  const fs::path binary = fs::path(TAPELM_BINARY_DIR) / "tapelm";
  EXPECT_TRUE(fs::exists(binary)) << binary << " is missing: build the 'tapelm' target before test_train";
  std::string command = (env.empty() ? "" : "env " + env + " ") + shell_quote(binary.string());
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
  for (const char* command : {"pretrain", "finetune", "check", "generate", "eval", "predict", "average"}) {
    EXPECT_NE(help.out.find("\n  " + std::string(command) + " "), std::string::npos) << command;
  }
  EXPECT_EQ(run_tapelm(scratch, {"--version"}).out, "tapelm 0.1.0\n");
}

TEST(Cli, EachCommandDescribesItsOptions) {
  ScratchDir scratch;
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"pretrain", {"CONFIG", "--set", "--resume"}},
      {"finetune", {"CONFIG", "--set", "--resume"}},
      {"check", {"CONFIG", "--set", "out_dir", "data.cache_dir"}},
      {"generate", {"--checkpoint", "--prompt", "--max-new-tokens", "--temperature", "--top-k", "--top-p", "--seed"}},
      {"eval", {"--checkpoint", "--text", "--data", "--threads", "--beam-size", "--length-penalty"}},
      {"predict", {"--checkpoint", "--input", "--output", "--threads", "--beam-size", "--length-penalty"}},
      {"average", {"CHECKPOINT...", "--last", "--output"}}};
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

  o = run_tapelm(scratch, {"predict", "--checkpoint", "c", "--input", "i", "--beam-size", "0"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "--beam-size: must be >= 1, got 0 (see 'tapelm predict --help')");
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

TEST(Cli, PretrainNamesAMissingDataSourceAndLeavesNoRunBehind) {
  ScratchDir scratch;
  const std::string config = minimal_config(scratch);
  // --set given before and after CONFIG; each takes exactly one value.
  const Outcome o = run_tapelm(scratch, {"pretrain", "--set", "model.n_layer=2", config, "--set", "optimizer.lr=3e-4"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(o.err.rfind("tapelm: error: data: ", 0), 0u) << o.err;
  EXPECT_NE(o.err.find("data/*.txt"), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(scratch / "run")) << "a run that never started leaves no out_dir";
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

TEST(Cli, PretrainRefusesAnOutDirAnotherRunIsUsing) {
  ScratchDir scratch;
  const std::string config = minimal_config(scratch);
  const RunLock other(scratch / "run");
  const Outcome o = run_tapelm(scratch, {"pretrain", config});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, (scratch / "run").string() + ": another run (pid " + std::to_string(::getpid()) +
                               ") is using this out_dir; wait for it to end, or choose another out_dir "
                               "(--set out_dir=...)");
}

TEST(Cli, ResumeSkipsACorruptedCheckpointWithAWarning) {
  ScratchDir scratch;
  const std::string config = minimal_config(scratch);
  const fs::path run = scratch / "run";
  write_checkpoint(run, 100, {CheckpointFile::from_bytes("weights.safetensors", "good")});
  write_checkpoint(run, 200, {CheckpointFile::from_bytes("weights.safetensors", "bad!")});
  write_text(run / "checkpoints/step_00000200/weights.safetensors", "BAD!");

  const Outcome o = run_tapelm(scratch, {"pretrain", config, "--resume"});
  // step 100 verifies and is chosen, but holds no trainer files (it was written by hand).
  const std::string warning = "tapelm: warning: " + (run / "checkpoints/step_00000200/weights.safetensors").string() +
                              ": checksum mismatch (file corrupted?); skipped step_00000200\n";
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(o.err, warning + "tapelm: error: " + (run / "checkpoints/step_00000100/config.yaml").string() +
                       ": not in this checkpoint's manifest\n");

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

// A real checkpoint: the tiny run (tests/train/tiny_run.h) trained for 10 steps.
fs::path trained_checkpoint(const ScratchDir& scratch) {
  const testing::TinyRun run = testing::write_tiny_run(scratch, 10);
  testing::run_pretraining(run.config);
  return run.out_dir / "checkpoints/step_00000010";
}

TEST(Cli, Bf16FallsBackToFp32WithOneWarningLineWhereTheCpuHasNoBf16Instructions) {
  if (!gemm_backend_built(GemmBackend::OneDnn)) GTEST_SKIP() << "built without oneDNN";
  ScratchDir scratch;
  const testing::TinyRun run = testing::write_tiny_run(scratch, 6);
  // oneDNN limited to AVX2 stands for a CPU without AVX512-BF16.
  const Outcome o = run_tapelm(scratch, {"pretrain", run.config.string(), "--set", "train.precision=bf16"},
                               "ONEDNN_MAX_CPU_ISA=AVX2");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  const std::string warning = "warning: train.precision: bf16 products are not available, so they run in fp32: the CPU "
                              "has no AVX512-BF16 or AMX (oneDNN would emulate bf16, slower than fp32)\n";
  const std::size_t at = o.out.find(warning);
  EXPECT_NE(at, std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("warning:", at + 1), std::string::npos) << "one warning line: " << o.out;
  EXPECT_NE(o.out.find("1 thread, gemm onednn, fp32\n"), std::string::npos) << o.out;
}

TEST(Cli, GenerateContinuesThePromptDeterministicallyForASeed) {
  ScratchDir scratch;
  const std::string checkpoint = trained_checkpoint(scratch).string();
  const std::vector<std::string> args = {"generate", "--checkpoint", checkpoint, "--prompt", "The whale",
                                         "--max-new-tokens", "12", "--temperature", "1", "--seed", "5"};
  const Outcome first = run_tapelm(scratch, args);
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out.rfind("The whale", 0), 0u) << first.out;
  EXPECT_GT(first.out.size(), std::string("The whale\n").size()) << first.out;
  EXPECT_EQ(run_tapelm(scratch, args).out, first.out);
  // A run directory stands for its newest checkpoint.
  const Outcome greedy = run_tapelm(scratch, {"generate", "--checkpoint", (scratch / "run").string(), "--prompt",
                                              "The whale", "--temperature", "0", "--max-new-tokens", "5"});
  EXPECT_EQ(greedy.exit_code, 0) << greedy.err;
  EXPECT_EQ(greedy.out.rfind("The whale", 0), 0u) << greedy.out;
}

TEST(Cli, AverageOfARunsLastCheckpointsIsAModelToEvaluateAndGenerateWithButNotToResume) {
  ScratchDir scratch;
  const testing::TinyRun run = testing::write_tiny_run(scratch, 30);  // checkpoints at steps 10, 20 and 30
  testing::run_pretraining(run.config);
  const std::string averaged = (scratch / "avg").string();
  const Outcome average = run_tapelm(scratch, {"average", "--last", "3", run.out_dir.string(), "--output", averaged});
  ASSERT_EQ(average.exit_code, 0) << average.err;
  EXPECT_EQ(average.out, "averaged 3 checkpoints (steps 10, 20, 30) into " + averaged + "/checkpoints/step_00000030\n");

  const std::string text = (scratch / "corpus.txt").string();
  const Outcome eval = run_tapelm(scratch, {"eval", "--checkpoint", averaged, "--text", text});
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NE(eval.out.find("(checkpoint " + averaged + "/checkpoints/step_00000030, step 30, 1 thread)"), std::string::npos)
      << eval.out;
  const Outcome last = run_tapelm(scratch, {"eval", "--checkpoint", run.out_dir.string(), "--text", text});
  ASSERT_NE(eval.out.find(": loss "), std::string::npos) << eval.out;
  ASSERT_NE(last.out.find(": loss "), std::string::npos) << last.out;
  EXPECT_NE(eval.out.substr(eval.out.find(": loss ")), last.out.substr(last.out.find(": loss "))) << "not the last checkpoint";
  const Outcome generate = run_tapelm(scratch, {"generate", "--checkpoint", averaged, "--prompt", "The whale",
                                                "--temperature", "0", "--max-new-tokens", "5"});
  EXPECT_EQ(generate.exit_code, 0) << generate.err;

  const Outcome resume = run_tapelm(scratch, {"pretrain", run.config.string(), "--set", "out_dir=" + averaged, "--resume"});
  EXPECT_EQ(resume.exit_code, 2);
  EXPECT_NE(resume.err.find("is an average of checkpoints"), std::string::npos) << resume.err;

  const std::string run_dir = run.out_dir.string();
  expect_one_error_line(run_tapelm(scratch, {"average", run_dir, "--output", (scratch / "one").string()}),
                        "average: at least 2 checkpoints expected, got 1");
  const Outcome two = run_tapelm(scratch, {"average", "--last", "2", run_dir, run_dir, "--output", (scratch / "two").string()});
  EXPECT_EQ(two.exit_code, 2);
  expect_one_error_line(two, "average --last 2: give one run directory, got 2 paths");
  expect_one_error_line(run_tapelm(scratch, {"average", "--last", "4", run_dir, "--output", (scratch / "four").string()}),
                        run_dir + ": 3 valid checkpoints, --last 4 asked for (checkpoint.keep_last keeps that many; "
                                  "0 keeps all)");
  EXPECT_EQ(run_tapelm(scratch, {"average", "--last", "2", run_dir}).exit_code, 2);  // no --output
  EXPECT_FALSE(fs::exists(scratch / "one"));
  EXPECT_FALSE(fs::exists(scratch / "two"));
  EXPECT_FALSE(fs::exists(scratch / "four"));
}

TEST(Cli, EvalReportsLossAndPerplexityOfAText) {
  ScratchDir scratch;
  const std::string checkpoint = trained_checkpoint(scratch).string();
  const std::string text = (scratch / "corpus.txt").string();
  const Outcome o = run_tapelm(scratch, {"eval", "--checkpoint", checkpoint, "--text", text});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out.rfind(text + ": loss ", 0), 0u) << o.out;
  EXPECT_NE(o.out.find(", perplexity "), std::string::npos) << o.out;
  // The tiny run trained on 1 thread, and eval keeps the checkpoint's count.
  EXPECT_NE(o.out.find("(checkpoint " + checkpoint + ", step 10, 1 thread)"), std::string::npos) << o.out;
}

TEST(Cli, EvalJsonGivesTheSameFiguresInFullPrecision) {
  ScratchDir scratch;
  const std::string checkpoint = trained_checkpoint(scratch).string();
  const std::string text = (scratch / "corpus.txt").string();
  const Outcome plain = run_tapelm(scratch, {"eval", "--checkpoint", checkpoint, "--text", text});
  const Outcome json = run_tapelm(scratch, {"eval", "--checkpoint", checkpoint, "--text", text, "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out.find('\n'), json.out.size() - 1) << json.out;
  const nlohmann::json record = nlohmann::json::parse(json.out);
  const double loss = record.at("loss").get<double>();
  const double perplexity = record.at("perplexity").get<double>();
  EXPECT_EQ(perplexity, std::exp(loss));
  char line[1024];
  std::snprintf(line, sizeof line, "%s: loss %.4f, perplexity %.2f over %lld tokens (checkpoint %s, step %lld, %d thread)\n",
                record.at("file").get<std::string>().c_str(), loss, perplexity,
                static_cast<long long>(record.at("tokens").get<int64_t>()),
                record.at("checkpoint").get<std::string>().c_str(),
                static_cast<long long>(record.at("step").get<int64_t>()), record.at("threads").get<int>());
  EXPECT_EQ(plain.out, line);
  EXPECT_EQ(record.at("file"), text);
  EXPECT_EQ(record.at("checkpoint"), checkpoint);
  EXPECT_EQ(record.at("step"), 10);
  // Every digit, not the 4 decimals of the text line.
  const size_t start = json.out.find("\"loss\":") + std::string("\"loss\":").size();
  const std::string loss_text = json.out.substr(start, json.out.find(',', start) - start);
  EXPECT_GT(loss_text.size(), 8u) << loss_text;
}

TEST(Cli, EvalTakesAThreadCountButRefusesABeamOrLengthPenaltyForALanguageModel) {
  ScratchDir scratch;
  const std::string checkpoint = trained_checkpoint(scratch).string();
  const std::string text = (scratch / "corpus.txt").string();
  Outcome o = run_tapelm(scratch, {"eval", "--checkpoint", checkpoint, "--text", text, "--threads", "2"});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("step 10, 2 threads)"), std::string::npos) << o.out;
  o = run_tapelm(scratch, {"eval", "--checkpoint", checkpoint, "--text", text, "--beam-size", "4"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "--beam-size: " + checkpoint +
                               " is a language model scored by its loss; only seq2seq fine-tuning checkpoints "
                               "decode with a beam");
  o = run_tapelm(scratch, {"eval", "--checkpoint", checkpoint, "--text", text, "--length-penalty", "0.6"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "--length-penalty: " + checkpoint +
                               " is a language model scored by its loss; only seq2seq fine-tuning checkpoints "
                               "decode with a beam");
}

TEST(Cli, EvalReadsATokenShardAndRejectsOtherFiles) {
  ScratchDir scratch;
  const std::string checkpoint = trained_checkpoint(scratch).string();
  std::string shard;
  for (const auto& entry : fs::recursive_directory_iterator(scratch / "cache")) {
    if (entry.path().filename() == "val_00000.bin") shard = entry.path().string();
  }
  ASSERT_FALSE(shard.empty());
  const Outcome o = run_tapelm(scratch, {"eval", "--checkpoint", checkpoint, "--data", shard});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out.rfind(shard + ": loss ", 0), 0u) << o.out;

  const std::string not_a_shard = (scratch / "corpus.txt").string();
  const Outcome bad = run_tapelm(scratch, {"eval", "--checkpoint", checkpoint, "--data", not_a_shard});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err.rfind("tapelm: error: --data " + not_a_shard + ": ", 0), 0u) << bad.err;
}

TEST(Cli, EvalRejectsAMissingEmptyOrNonUtf8TextWithExitTwo) {
  ScratchDir scratch;
  const std::string checkpoint = trained_checkpoint(scratch).string();
  const std::string missing = (scratch / "missing.txt").string();
  Outcome o = run_tapelm(scratch, {"eval", "--checkpoint", checkpoint, "--text", missing});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "--text " + missing + ": file not found");

  const std::string empty = (scratch / "empty.txt").string();
  write_text(empty, "");
  o = run_tapelm(scratch, {"eval", "--checkpoint", checkpoint, "--text", empty});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "--text " + empty + ": the file is empty; nothing to evaluate");

  const std::string latin1 = (scratch / "latin1.txt").string();
  write_text(latin1, "Call me\nIshmael, caf\xe9.");
  o = run_tapelm(scratch, {"eval", "--checkpoint", checkpoint, "--text", latin1});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, "--text " + latin1 +
                               ": invalid UTF-8 at byte offset 20 (line 2, byte 0xE9); convert the file to UTF-8");
}

TEST(Cli, GenerateOnACorruptedCheckpointExitsTwoNamingTheFile) {
  ScratchDir scratch;
  const fs::path checkpoint = trained_checkpoint(scratch);
  const fs::path weights = checkpoint / "weights.safetensors";
  std::string bytes = read_text(weights);
  bytes[bytes.size() - 5] ^= 0x01;
  write_text(weights, bytes);
  const Outcome o = run_tapelm(scratch, {"generate", "--checkpoint", checkpoint.string(), "--prompt", "The whale"});
  EXPECT_EQ(o.exit_code, 2);
  expect_one_error_line(o, weights.string() + ": checksum mismatch (file corrupted?)");
  EXPECT_EQ(o.out, "");
}

}  // namespace
}  // namespace tapelm
