// Helpers for the trainer tests: a small generated English-like corpus, a tiny pretraining
// config around it (a model that trains in milliseconds per step), running the trainer
// through the library API, and reading back metrics.jsonl.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "scratch_dir.h"
#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/cli/commands.h>
#include <tapelm/train/cli/training_runs.h>

namespace tapelm::testing {

// About `sentences` short sentences from a fixed grammar: learnable (the loss falls fast)
// yet varied, with one paragraph per line like the real corpora.
inline std::string tiny_corpus_text(int sentences = 1200) {
  static const char* const subjects[] = {"the whale", "the captain", "a sailor", "the mate", "the old man",
                                         "a harpooneer", "the ship", "the crew"};
  static const char* const verbs[] = {"saw", "chased", "followed", "feared", "found", "hunted", "watched", "left"};
  static const char* const objects[] = {"the sea", "the white whale", "a boat", "the harbour", "the storm",
                                        "the deck", "a light", "the island"};
  static const char* const endings[] = {".", " at dawn.", " again.", " in the night.", "!"};
  uint64_t state = 12345;
  const auto next = [&state](uint64_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % n;
  };
  std::string text;
  for (int i = 0; i < sentences; ++i) {
    std::string sentence = std::string(subjects[next(8)]) + " " + verbs[next(8)] + " " + objects[next(8)] + endings[next(5)];
    sentence[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(sentence[0])));
    text += sentence + (i % 6 == 5 ? "\n" : " ");
  }
  return text;
}

struct TinyRun {
  std::filesystem::path config;   // the YAML file
  std::filesystem::path out_dir;  // <scratch>/run unless overridden
};

// Writes <scratch>/corpus.txt and <scratch>/run.yaml: a 2-layer GPT (d=32, ctx 32, dropout
// 0.1) with a 120-piece BPE tokenizer, batch 8 in micro-batches of 4, one thread (the
// machine may be shared), constant lr after 5 warmup steps (so runs of different max_steps
// share their learning rates).
inline TinyRun write_tiny_run(const ScratchDir& scratch, int64_t max_steps = 20) {
  write_text(scratch / "corpus.txt", tiny_corpus_text());
  const std::filesystem::path config = scratch / "run.yaml";
  write_text(config, "out_dir: " + (scratch / "run").string() + "\nseed: 7\n" +
                         "model: {n_layer: 2, n_head: 2, n_embd: 32, ctx_len: 32, dropout: 0.1}\n"
                         "tokenizer: {vocab_size: 120, byte_fallback: false, character_coverage: 1.0}\n"
                         "data: {train: " + (scratch / "corpus.txt").string() + ", val_fraction: 0.1, cache_dir: " +
                         (scratch / "cache").string() + "}\n"
                         "optimizer: {lr: 3.0e-3, beta2: 0.95, weight_decay: 0.1}\n"
                         "scheduler: {name: constant, warmup_steps: 5}\n"
                         "train: {max_steps: " + std::to_string(max_steps) +
                         ", batch_size: 8, micro_batch_size: 4, threads: 1, grad_clip: 1.0}\n"
                         "eval: {interval: 10, max_examples: 16, batch_size: 4}\n"
                         "logging: {interval: 1}\n"
                         "checkpoint: {interval: 10, keep_last: 0}\n"
                         "sample: {prompt: \"The whale\", max_new_tokens: 12, temperature: 0.8, top_k: 20}\n");
  return {config, scratch / "run"};
}

struct TrainOutcome {
  TrainResult result;
  std::string log;
};

// prepare_pretrain + train, as `tapelm pretrain CONFIG [--set ...] [--resume [PATH]]` does,
// with the log captured. `stop_after_polls` > 0 requests a stop at that poll (one per step).
inline PretrainArgs pretrain_args(const std::filesystem::path& config, const std::vector<std::string>& overrides = {},
                                  bool resume = false, const std::string& resume_from = "") {
  PretrainArgs args;
  args.config_path = config.string();
  args.overrides = overrides;
  args.resume = resume;
  args.resume_from = resume_from;
  return args;
}

inline TrainOutcome run_pretraining(const std::filesystem::path& config, const std::vector<std::string>& overrides = {},
                                    bool resume = false, const std::string& resume_from = "",
                                    int stop_after_polls = 0) {
  const PreparedRun run = prepare_pretrain(pretrain_args(config, overrides, resume, resume_from));
  std::ostringstream log;
  for (const std::string& warning : run.warnings) log << "warning: " << warning << "\n";
  TrainerOptions options;
  options.log = &log;
  int polls = 0;
  if (stop_after_polls > 0) options.stop_requested = [&] { return ++polls >= stop_after_polls; };
  TrainOutcome outcome{pretrain(run, options), ""};
  outcome.log = log.str();
  return outcome;
}

// `tapelm pretrain ARGS...` (the built binary) in the background, output to <dir>/stdout.txt
// and stderr.txt; `crash_at` set becomes its TAPELM_TEST_CRASH_AT (data/crash_point.h).
inline pid_t start_pretrain(const std::filesystem::path& dir, const std::vector<std::string>& args,
                            const std::string& crash_at = "") {
  const std::string binary = (std::filesystem::path(TAPELM_BINARY_DIR) / "tapelm").string();
  std::vector<std::string> argv_text = {binary, "pretrain"};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  const std::string out = (dir / "stdout.txt").string(), err = (dir / "stderr.txt").string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    ::dup2(null_fd, STDIN_FILENO);
    if (!crash_at.empty()) ::setenv("TAPELM_TEST_CRASH_AT", crash_at.c_str(), 1);
    std::vector<char*> argv;
    for (std::string& arg : argv_text) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// The child's exit status, or 1000 + the signal that ended it.
inline int wait_exit_status(pid_t child) {
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

inline std::vector<nlohmann::json> read_metrics(const std::filesystem::path& out_dir) {
  std::vector<nlohmann::json> records;
  std::istringstream lines(read_text(out_dir / "metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) records.push_back(nlohmann::json::parse(line));
  return records;
}

// step → the train record's text as written, without its timing field (the only one that
// legitimately differs between runs).
inline std::map<int64_t, std::string> train_records(const std::filesystem::path& out_dir) {
  std::map<int64_t, std::string> records;
  for (nlohmann::json record : read_metrics(out_dir)) {
    if (!record.contains("loss")) continue;
    record.erase("tokens_per_s");
    records[record["step"].get<int64_t>()] = record.dump();
  }
  return records;
}

// Byte equality of two files, reporting the first difference rather than the contents.
inline ::testing::AssertionResult same_bytes(const std::filesystem::path& a, const std::filesystem::path& b) {
  const std::string x = read_text(a), y = read_text(b);
  if (x == y) return ::testing::AssertionSuccess();
  size_t at = 0;
  while (at < x.size() && at < y.size() && x[at] == y[at]) ++at;
  return ::testing::AssertionFailure() << a << " (" << x.size() << " bytes) and " << b << " (" << y.size()
                                       << " bytes) differ from byte " << at;
}

inline std::filesystem::path checkpoint_path(const std::filesystem::path& out_dir, int64_t step) {
  return checkpoints_dir(out_dir) / checkpoint_dir_name(step);
}

}  // namespace tapelm::testing
