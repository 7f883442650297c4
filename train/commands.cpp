// The tapelm subcommands. Each validates its inputs fully. Fine-tuning, prediction and
// labeled evaluation live in train/finetune_commands.cpp.
#include "train/commands.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include "data/atomic_file.h"
#include "data/shards.h"
#include "data/utf8.h"
#include "decode/generate.h"
#include "train/builders.h"
#include "train/cli.h"
#include "train/distributed.h"
#include "train/evaluation.h"
#include "train/finetune_checkpoint.h"
#include "train/finetune_commands.h"
#include "train/memory_budget.h"
#include "train/signals.h"
#include "train/trainer.h"
#include "train/training_checkpoint.h"

namespace tapelm {
namespace fs = std::filesystem;

namespace {

void require_input_file(const std::string& option, const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(option + " " + path + ": file not found");
  if (fs::is_directory(path, ec)) throw InputError(option + " " + path + ": is a directory, expected a file");
}

Checkpoint open_checkpoint_option(const std::string& path) {
  std::vector<std::string> skipped;
  Checkpoint checkpoint = locate_checkpoint(path, &skipped);
  for (const std::string& reason : skipped) print_warning(reason);
  return checkpoint;
}

// A shell-quoted argument, for commands printed for the user to copy.
std::string shell_word(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=,:+@") ==
                           std::string::npos) {
    return text;
  }
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string resume_command(const PretrainArgs& args) {
  std::string command = "tapelm pretrain " + shell_word(args.config_path);
  for (const std::string& assignment : args.overrides) command += " --set " + shell_word(assignment);
  return command + " --resume";
}

// The text of an --text file: it must exist, be non-empty and be valid UTF-8 (a leading
// byte-order mark is dropped, as the corpus reader does).
std::string read_text_option(const std::string& path) {
  require_input_file("--text", path);
  std::string text = read_file(path);
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  if (text.empty()) throw InputError("--text " + path + ": the file is empty; nothing to evaluate");
  const size_t bad = find_invalid_utf8(text);
  if (bad != std::string::npos) {
    const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + bad, '\n'));
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[bad]));
    throw InputError("--text " + path + ": invalid UTF-8 at byte offset " + std::to_string(bad) + " (line " +
                     std::to_string(line) + ", byte " + byte + "); convert the file to UTF-8");
  }
  return text;
}

void print_loss(const std::string& what, const LossTotal& total, const Checkpoint& checkpoint, int threads, bool json) {
  if (json) {
    nlohmann::ordered_json record = eval_record(what, checkpoint, threads);
    record["loss"] = total.mean();
    record["perplexity"] = total.perplexity();
    record["tokens"] = total.tokens;
    print_json(record);
    return;
  }
  std::printf("%s: loss %.4f, perplexity %.2f over %lld tokens (checkpoint %s, step %lld, %s)\n", what.c_str(),
              total.mean(), total.perplexity(), static_cast<long long>(total.tokens), checkpoint.dir.c_str(),
              static_cast<long long>(checkpoint.step), thread_count_text(threads).c_str());
}

// "tapelm: error: <message>" on one line, naming the rank unless it is rank 0.
void print_rank_error(const Distributed& dist, std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  std::cerr << "tapelm: error: " << (dist.is_root() ? "" : "rank " + std::to_string(dist.rank()) + ": ") << message
            << std::endl;
}

// Windows per forward pass in `tapelm eval`.
constexpr int64_t kEvalBatch = 8;

}  // namespace

nlohmann::ordered_json eval_record(const std::string& file, const Checkpoint& checkpoint, int threads) {
  return {{"file", file}, {"checkpoint", checkpoint.dir.string()}, {"step", checkpoint.step}, {"threads", threads}};
}

void print_json(const nlohmann::ordered_json& record) {
  std::cout << record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << std::endl;
}

void print_warning(const std::string& message) { std::cerr << "tapelm: warning: " << message << "\n"; }

PretrainConfig load_pretrain_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  PretrainConfig config = load_pretrain_config(path, overrides);
  require_memory_fits(estimate_memory(config.model, pretrain_memory_plan(config, planned_vocab_size(config.tokenizer))),
                      config.train.memory_check, path, kTrainingMemoryHint);
  return config;
}

PreparedRun prepare_pretrain(const PretrainArgs& args) {
  PreparedRun run;
  run.config = load_pretrain_run_config(args.config_path, args.overrides);
  const fs::path out_dir = run.config.out_dir;
  run.lock = std::make_shared<const RunLock>(out_dir);

  if (args.resume) {
    if (args.resume_from.empty() && list_checkpoint_dirs(out_dir).empty()) {
      throw InputError("--resume: " + out_dir.string() + " has no checkpoints to resume from");
    }
    const fs::path from = args.resume_from.empty() ? out_dir : fs::path(args.resume_from);
    try {
      run.resume_from = locate_checkpoint(from, &run.warnings);
    } catch (const CheckpointError& e) {
      throw CheckpointError(std::string("--resume: ") + e.what());
    }
  } else if (!list_checkpoint_dirs(out_dir).empty()) {
    throw InputError(out_dir.string() + ": already holds checkpoints from an earlier run; pass --resume to " +
                     "continue it, or choose another out_dir (--set out_dir=...)");
  }
  return run;
}

namespace {

// Under mpirun: rank 0 prepares out_dir and picks the checkpoint while the others wait; they
// then read the same config and open the checkpoint rank 0 chose.
PreparedRun prepare_pretrain_on_every_rank(const PretrainArgs& args, const Distributed& dist) {
  PreparedRun run;
  if (dist.is_root()) {
    run = prepare_pretrain(args);
    for (const std::string& warning : run.warnings) print_warning(warning);
  }
  std::string resume_dir = run.resume_from ? run.resume_from->dir.string() : std::string();
  dist.broadcast(resume_dir);
  if (!dist.is_root()) {
    run.config = load_pretrain_config(args.config_path, args.overrides);
    if (!resume_dir.empty()) run.resume_from = verify_checkpoint(resume_dir);
  }
  return run;
}

int pretrain(const PretrainArgs& args, const Distributed& dist) {
  const StopSignals signals;
  const PreparedRun run = prepare_pretrain_on_every_rank(args, dist);
  TrainerOptions options;
  options.progress_bar = dist.is_root() && ::isatty(STDERR_FILENO) ? &std::cerr : nullptr;
  options.stop_requested = [] { return StopSignals::received() != 0; };
  options.on_training_start = StopSignals::defer;
  options.distributed = &dist;
  const TrainResult result = train(run, options);
  if (!dist.is_root()) return kExitOk;
  if (result.status == TrainStatus::kStopped) {
    std::cout << "stopped by " << signal_name(StopSignals::received()) << " after step " << result.step
              << "; checkpoint written to " << result.checkpoint.string() << "\nresume with: " << resume_command(args)
              << std::endl;
  } else {
    char val_loss[48] = "";
    if (result.val_loss) std::snprintf(val_loss, sizeof val_loss, ", val_loss %.4f", *result.val_loss);
    std::cout << "done: " << result.step << " steps" << val_loss << "; final checkpoint " << result.checkpoint.string()
              << std::endl;
  }
  return kExitOk;
}

}  // namespace

int run_pretrain(const PretrainArgs& args) {
  const Distributed dist;
  if (dist.world_size() == 1) return pretrain(args, dist);
  // An error on one rank would leave the others waiting in a collective: report it, then end
  // the whole job with the exit code the error deserves (the last checkpoint stays intact,
  // being written atomically).
  int code = kExitFailure;
  try {
    return pretrain(args, dist);
  } catch (const TrainingDiverged& e) {
    // Every rank sees the same averaged gradients, so all diverge at the same step: rank 0
    // reports, and no rank aborts the job before it has.
    if (dist.is_root()) print_rank_error(dist, e.what());
    dist.barrier();
  } catch (const InputError& e) {
    code = kExitBadInput;
    print_rank_error(dist, e.what());
  } catch (const std::exception& e) {
    print_rank_error(dist, e.what());
  }
  dist.abort(code);
}

int run_generate(const GenerateArgs& args) {
  TrainedModel trained = load_trained_model(open_checkpoint_option(args.checkpoint));
  use_threads(trained.config.train.threads);
  DecodingOptions options = decoding_options(trained.config.sample, uint64_t(args.seed.value_or(trained.config.seed)));
  if (args.max_new_tokens) options.max_new_tokens = *args.max_new_tokens;
  if (args.temperature) options.temperature = *args.temperature;
  if (args.top_k) options.top_k = *args.top_k;
  if (args.top_p) options.top_p = *args.top_p;
  std::cout << generate_text(*trained.model, trained.tokenizer, args.prompt, options) << std::endl;
  return kExitOk;
}

int run_eval(const EvalArgs& args) {
  if (args.text_file.empty() == args.data_file.empty()) throw InputError("eval: give exactly one of --text or --data");
  std::string text;
  if (!args.text_file.empty()) text = read_text_option(args.text_file);
  const Checkpoint checkpoint = open_checkpoint_option(args.checkpoint);
  // A fine-tuning checkpoint evaluates a labeled file (file or label-folder directory).
  if (!args.data_file.empty() && is_finetune_checkpoint(checkpoint)) {
    return run_eval_labeled(checkpoint, args.data_file, args.inference, args.json);
  }
  if (args.inference.beam_size) {
    throw InputError("--beam-size: " + checkpoint.dir.string() +
                     (is_finetune_checkpoint(checkpoint)
                          ? " is evaluated on --text, which scores a loss; beams decode examples given with --data"
                          : " is a language model scored by its loss; only seq2seq fine-tuning checkpoints decode "
                            "with a beam"));
  }
  if (!args.data_file.empty()) require_input_file("--data", args.data_file);
  TrainedModel trained = load_trained_model(checkpoint);
  const int threads = use_threads(args.inference.threads.value_or(trained.config.train.threads));
  GPT& model = *trained.model;

  if (!args.text_file.empty()) {
    // The same token stream as a training document: <bos> text <eos>.
    std::vector<int32_t> tokens{trained.tokenizer.bos_id()};
    trained.tokenizer.encode_append(text, tokens);
    tokens.push_back(trained.tokenizer.eos_id());
    const TokenReader read = [&](uint64_t start, size_t count, int32_t* out) {
      std::copy_n(tokens.begin() + static_cast<std::ptrdiff_t>(start), count, out);
    };
    print_loss(args.text_file, evaluate_stream(model, tokens.size(), read, kEvalBatch), trained.checkpoint, threads,
               args.json);
    return kExitOk;
  }
  TokenDataset data;
  try {
    data = TokenDataset({args.data_file}, /*verify=*/true);
  } catch (const std::exception& e) {
    throw InputError("--data " + args.data_file + ": " + e.what());
  }
  if (data.vocab_size() != uint64_t(model.config().vocab_size)) {
    throw InputError("--data " + args.data_file + ": tokens of a " + std::to_string(data.vocab_size()) +
                     "-piece vocabulary, but the checkpoint's tokenizer has " +
                     std::to_string(model.config().vocab_size) + " pieces");
  }
  if (data.size() < 2) throw InputError("--data " + args.data_file + ": fewer than 2 tokens; nothing to evaluate");
  const TokenReader read = [&](uint64_t start, size_t count, int32_t* out) { data.read(start, count, out); };
  print_loss(args.data_file, evaluate_stream(model, data.size(), read, kEvalBatch), trained.checkpoint, threads,
             args.json);
  return kExitOk;
}


}  // namespace tapelm
