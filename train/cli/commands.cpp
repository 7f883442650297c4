// The tapelm subcommands. Each validates its inputs fully. Fine-tuning, prediction and
// labeled evaluation live in train/cli/finetune_commands.cpp.
#include <tapelm/train/cli/commands.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include <tapelm/data/atomic_file.h>
#include <tapelm/data/shards.h>
#include <tapelm/data/utf8.h>
#include <tapelm/decode/generate.h>
#include <tapelm/train/config/builders.h>
#include <tapelm/train/cli/cli.h>
#include <tapelm/train/loop/distributed.h>
#include <tapelm/train/tasks/evaluation.h>
#include <tapelm/train/checkpoint/average_checkpoints.h>
#include <tapelm/train/checkpoint/finetune_checkpoint.h>
#include <tapelm/train/cli/finetune_commands.h>
#include <tapelm/train/config/memory_budget.h>
#include <tapelm/train/cli/rank_errors.h>
#include <tapelm/train/loop/signals.h>
#include <tapelm/train/cli/training_runs.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

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

// The command that resumes the run, under mpirun with as many ranks when it had several (any
// number of ranks may resume it; this keeps the same speed).
std::string resume_command(const std::string& command_name, const TrainCommandArgs& args, int ranks) {
  std::string command = (ranks > 1 ? "mpirun -np " + std::to_string(ranks) + " " : std::string()) + "tapelm " +
                        command_name + " " + shell_word(args.config_path);
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

namespace {

// Under mpirun: rank 0 checks the run, locks out_dir and picks the checkpoint while the others
// wait; they then take rank 0's resolved config and open the checkpoint it chose.
template <class Run, class Prepare, class Parse>
Run prepare_on_every_rank(const TrainCommandArgs& args, const Distributed& dist, Prepare prepare, Parse parse) {
  Run run;
  std::string config_yaml, resume_dir;
  if (dist.is_root()) {
    run = prepare(args);
    for (const std::string& warning : run.warnings) print_warning(warning);
    config_yaml = to_yaml(run.config);
    if (run.resume_from) resume_dir = run.resume_from->dir.string();
  }
  if (dist.world_size() == 1) return run;
  dist.broadcast(config_yaml);
  dist.broadcast(resume_dir);
  if (!dist.is_root()) {
    run.config = parse(config_yaml, args.config_path + " (as rank 0 resolved it)");
    if (!resume_dir.empty()) run.resume_from = verify_checkpoint(resume_dir);
  }
  return run;
}

template <class Run, class Prepare, class Parse, class Train>
int train_command(const std::string& name, const TrainCommandArgs& args, const Distributed& dist, Prepare prepare,
                  Parse parse, Train train_run) {
  const StopSignals signals;
  const Run run = prepare_on_every_rank<Run>(args, dist, prepare, parse);
  TrainerOptions options;
  options.progress_bar = dist.is_root() && ::isatty(STDERR_FILENO) ? &std::cerr : nullptr;
  options.stop_requested = [] { return StopSignals::received() != 0; };
  options.on_training_start = StopSignals::defer;
  options.distributed = &dist;
  const TrainResult result = train_run(run, options);
  if (!dist.is_root()) return kExitOk;
  if (result.stopped) {
    std::cout << "stopped by " << signal_name(StopSignals::received()) << " after step " << result.step
              << "; checkpoint written to " << result.checkpoint.string()
              << "\nresume with: " << resume_command(name, args, dist.world_size()) << std::endl;
    return kExitOk;
  }
  std::cout << "done: " << result.step << " steps" << (result.early_stopped ? " (early stopping)" : "");
  if (result.evaluation) std::cout << ", val " << format_metrics(*result.evaluation);
  if (result.test) std::cout << ", test " << format_metrics(*result.test);
  std::cout << "; best checkpoint " << (result.best.empty() ? std::string("none") : result.best.string())
            << "; final checkpoint " << result.checkpoint.string();
  if (!result.average.empty()) std::cout << "; average " << result.average.string();
  std::cout << std::endl;
  return kExitOk;
}

}  // namespace

int run_pretrain(const PretrainArgs& args) {
  const Distributed dist;
  return run_on_every_rank(dist, [&] {
    return train_command<PreparedRun>(
        "pretrain", args, dist, prepare_pretrain,
        [](const std::string& yaml, const std::string& name) { return parse_config<PretrainConfig>(yaml, name); },
        [](const PreparedRun& run, const TrainerOptions& options) { return pretrain(run, options); });
  });
}

int run_finetune(const FinetuneArgs& args) {
  const Distributed dist;
  return run_on_every_rank(dist, [&] {
    return train_command<FinetuneRun>(
        "finetune", args, dist, prepare_finetune,
        [](const std::string& yaml, const std::string& name) { return parse_config<FinetuneConfig>(yaml, name); },
        [](const FinetuneRun& run, const TrainerOptions& options) { return finetune(run, options); });
  });
}

int run_generate(const GenerateArgs& args) {
  TrainedModel trained = load_trained_model(open_checkpoint_option(args.checkpoint));
  use_threads(trained.config.train.threads);
  use_gemm(trained.config.train, std::cerr);
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
  if (const std::string option = args.inference.decoding_option(); !option.empty()) {
    throw InputError(option + ": " + checkpoint.dir.string() +
                     (is_finetune_checkpoint(checkpoint)
                          ? " is evaluated on --text, which scores a loss; beams decode examples given with --data"
                          : " is a language model scored by its loss; only seq2seq fine-tuning checkpoints decode "
                            "with a beam"));
  }
  if (!args.data_file.empty()) require_input_file("--data", args.data_file);
  TrainedModel trained = load_trained_model(checkpoint);
  const int threads = use_threads(args.inference.threads.value_or(trained.config.train.threads));
  use_gemm(trained.config.train, std::cerr);
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

int run_average(const AverageArgs& args) {
  std::vector<Checkpoint> inputs;
  std::vector<std::string> skipped;
  if (args.last) {
    if (args.checkpoints.size() != 1) {
      throw InputError("average --last " + std::to_string(*args.last) + ": give one run directory, got " +
                       std::to_string(args.checkpoints.size()) + " paths");
    }
    inputs = newest_checkpoints(args.checkpoints.front(), *args.last, &skipped);
    for (const std::string& reason : skipped) print_warning(reason);
    if (int64_t(inputs.size()) < *args.last) {
      throw CheckpointError(args.checkpoints.front() + ": " + std::to_string(inputs.size()) + " valid checkpoint" +
                            (inputs.size() == 1 ? "" : "s") + ", --last " + std::to_string(*args.last) +
                            " asked for (checkpoint.keep_last keeps that many; 0 keeps all)");
    }
    std::reverse(inputs.begin(), inputs.end());  // oldest first, as a list given by hand usually is
  } else {
    for (const std::string& path : args.checkpoints) inputs.push_back(locate_checkpoint(path, &skipped));
    for (const std::string& reason : skipped) print_warning(reason);
  }
  const Checkpoint averaged = average_checkpoints(inputs, args.output);
  std::cout << "averaged " << inputs.size() << " checkpoints (steps";
  for (size_t i = 0; i < inputs.size(); ++i) std::cout << (i ? ", " : " ") << inputs[i].step;
  std::cout << ") into " << averaged.dir.string() << std::endl;
  return kExitOk;
}


}  // namespace tapelm
