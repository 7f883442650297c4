// The tapelm command line: subcommand and option definitions, dispatch and exit codes.
#include <tapelm/train/cli/cli.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include <tapelm/train/cli/commands.h>
#include <tapelm/train/config/pretrain_config.h>
#include <tapelm/train/config/errors.h>
#include <tapelm/train/config/finetune_config.h>
#include <tapelm/train/config/suggest.h>

namespace tapelm {
namespace {

const char* const kCheckpointHelp = "Checkpoint directory, or a run directory (its newest valid checkpoint)";

void print_error(std::string message) {
  // One line per error, whatever the message's origin.
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  std::cerr << "tapelm: error: " << message << "\n";
}

// An option standing in for a config key takes exactly the values the key does (the same
// conversion, range and type limits), so a value --set refuses is refused here too, before
// any file is read: "--top-p: must be in (0, 1], got 1.5". The description labels the option
// in --help.
template <class Root>
CLI::Validator config_key_option(const ConfigSchema<Root>& schema, const std::string& key,
                                 const std::string& description) {
  return CLI::Validator(
      [&schema, key](std::string& text) { return schema.problem_with(key, YAML::Node(text)); }, description);
}

// --threads, --beam-size and --length-penalty, shared by eval and predict.
void add_inference_options(CLI::App* command, InferenceOptions& options) {
  command->add_option("--threads", options.threads, "OpenMP threads; 0 = all cores (default: the checkpoint's train.threads)")
      ->check(config_key_option(config_schema<PretrainConfig>(), "train.threads", ">= 0"))
      ->type_name("N");
  command
      ->add_option("--beam-size", options.beam_size,
                   "Seq2seq checkpoints: beam width, 1 = greedy (default: the checkpoint's decode.beam_size)")
      ->check(config_key_option(config_schema<FinetuneConfig>(), "decode.beam_size", ">= 1"))
      ->type_name("N");
  command
      ->add_option("--length-penalty", options.length_penalty,
                   "Seq2seq checkpoints: GNMT length normalisation of the beam's final choice, 0 = off "
                   "(default: the checkpoint's decode.length_penalty)")
      ->check(config_key_option(config_schema<FinetuneConfig>(), "decode.length_penalty", ">= 0"))
      ->type_name("X");
}

// The parser and the argument structs its options write into.
class CommandLine {
 public:
  CommandLine() : app_("tapelm: train and run transformer language models on CPUs", "tapelm") {
    app_.set_version_flag("--version", "tapelm 0.1.0");
    app_.require_subcommand(1);
    pretrain_ = add_train_command("pretrain", "Pretrain a language model from a YAML config", pretrain_args_,
                                  pretrain_resume_);
    finetune_ = add_train_command("finetune", "Fine-tune on a labeled dataset from a YAML config (classification, seq2seq or "
                                  "completion; from a pretrained checkpoint with init_from, or from scratch)",
                                  finetune_args_, finetune_resume_);
    define_check();
    define_generate();
    define_eval();
    define_predict();
    define_average();
  }

  // Parses argv; on a usage error or --help returns the exit code to stop with.
  std::optional<int> parse(int argc, const char* const* argv) {
    try {
      app_.parse(argc, argv);
      return std::nullopt;
    } catch (const CLI::Success& e) {  // --help, --version
      return app_.exit(e);
    } catch (const CLI::ParseError& e) {
      print_error(usage_error(e, argc, argv));
      return kExitBadInput;
    }
  }

  int dispatch() {
    if (pretrain_->parsed()) {
      pretrain_args_.resume = pretrain_resume_->count() > 0;
      return run_pretrain(pretrain_args_);
    }
    if (finetune_->parsed()) {
      finetune_args_.resume = finetune_resume_->count() > 0;
      return run_finetune(finetune_args_);
    }
    if (check_->parsed()) return run_check(check_args_);
    if (generate_->parsed()) return run_generate(generate_args_);
    if (eval_->parsed()) return run_eval(eval_args_);
    if (predict_->parsed()) return run_predict(predict_args_);
    if (average_->parsed()) return run_average(average_args_);
    throw std::logic_error("tapelm: a subcommand was parsed but none is dispatched");
  }

 private:
  CLI::App* add_train_command(const std::string& name, const std::string& description, TrainCommandArgs& args,
                              CLI::Option*& resume) {
    CLI::App* command = app_.add_subcommand(name, description);
    add_config_options(command, args.config_path, args.overrides);
    resume = command
                 ->add_option("--resume", args.resume_from,
                              "Continue from a checkpoint. PATH is a checkpoint directory or a run directory "
                              "(default: the newest valid checkpoint in out_dir). Put it after CONFIG.")
                 ->expected(0, 1)
                 ->type_name("[PATH]");
    return command;
  }

  // CONFIG and --set, of the commands that read a training config.
  static void add_config_options(CLI::App* command, std::string& config_path, std::vector<std::string>& overrides) {
    command->add_option("config", config_path, "YAML config file (see configs/)")->required()->type_name("CONFIG");
    command
        ->add_option("--set", overrides,
                     "Override a config key before validation, e.g. --set optimizer.lr=3e-4 (repeatable; "
                     "lists as --set data.train=[a.txt,b.txt])")
        ->type_name("SECTION.KEY=VALUE")
        ->expected(1)
        ->allow_extra_args(false)  // one value per --set, so a following CONFIG stays positional
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }

  void define_check() {
    check_ = app_.add_subcommand(
        "check",
        "Validate a pretraining or fine-tuning config (one with a task: key) and its data as the run would (read, "
        "tokenize, split) and print the plan without training: parameters, tokens or examples per split, class "
        "balance, steps, epochs, batches, estimated peak and available memory. Exits 0 if the run would start, 2 "
        "otherwise. Writes nothing in out_dir, but fills data.cache_dir (tokenizer, shards) as a pretraining run "
        "would first");
    add_config_options(check_, check_args_.config_path, check_args_.overrides);
  }

  void define_generate() {
    generate_ = app_.add_subcommand("generate", "Generate text from a checkpoint");
    GenerateArgs& a = generate_args_;
    generate_->add_option("--checkpoint", a.checkpoint, kCheckpointHelp)->required()->type_name("DIR");
    generate_->add_option("--prompt", a.prompt, "Text to continue")->required()->type_name("TEXT");
    const ConfigSchema<PretrainConfig>& schema = config_schema<PretrainConfig>();
    generate_->add_option("--max-new-tokens", a.max_new_tokens, "Tokens to generate (default: the config's sample.max_new_tokens)")
        ->check(config_key_option(schema, "sample.max_new_tokens", ">= 0"))
        ->type_name("N");
    generate_->add_option("--temperature", a.temperature, "Sampling temperature; 0 = greedy (default: sample.temperature)")
        ->check(config_key_option(schema, "sample.temperature", ">= 0"))
        ->type_name("T");
    generate_->add_option("--top-k", a.top_k, "Sample among the K most likely tokens; 0 = off (default: sample.top_k)")
        ->check(config_key_option(schema, "sample.top_k", ">= 0"))
        ->type_name("K");
    generate_->add_option("--top-p", a.top_p, "Nucleus sampling mass; 1 = off (default: sample.top_p)")
        ->check(config_key_option(schema, "sample.top_p", "in (0, 1]"))
        ->type_name("P");
    generate_->add_option("--seed", a.seed, "Random seed (default: the config's seed)")
        ->check(config_key_option(schema, "seed", ">= 0"))
        ->type_name("S");
  }

  void define_eval() {
    eval_ = app_.add_subcommand("eval",
                                "Evaluate a checkpoint on held-out data: loss and perplexity (pretrained), or the "
                                "task's metrics on a labeled file (fine-tuned)");
    eval_->add_option("--checkpoint", eval_args_.checkpoint, kCheckpointHelp)->required()->type_name("DIR");
    CLI::Option_group* input = eval_->add_option_group("input", "What to evaluate on (exactly one)");
    input->add_option("--text", eval_args_.text_file, "A UTF-8 text file, tokenized with the checkpoint's tokenizer")
        ->type_name("FILE");
    input
        ->add_option("--data", eval_args_.data_file,
                     "Pretrained checkpoint: an already tokenized data file from the data pipeline. Fine-tuned "
                     "checkpoint: a labeled file (.jsonl, .csv, .tsv) or a folder of label folders, read with the "
                     "checkpoint's data settings")
        ->type_name("FILE");
    input->require_option(1);
    add_inference_options(eval_, eval_args_.inference);
    eval_->add_flag("--json", eval_args_.json,
                    "Print one JSON object instead of the text: the file, checkpoint, step and threads with the "
                    "loss, perplexity and tokens (or the task's metrics, examples and report), numbers in full "
                    "precision");
  }

  void define_predict() {
    predict_ = app_.add_subcommand("predict",
                                   "Run a fine-tuned checkpoint over an input file; writes one JSON line per example");
    predict_->add_option("--checkpoint", predict_args_.checkpoint, kCheckpointHelp)->required()->type_name("DIR");
    predict_
        ->add_option("--input", predict_args_.input,
                     "Examples: .jsonl (objects with the config's data.input_field, optional \"id\"), .csv/.tsv "
                     "(a header naming data.input_field), or anything else as plain text, one example per line")
        ->required()
        ->type_name("FILE");
    predict_->add_option("--output", predict_args_.output, "JSONL output file (default: stdout)")->type_name("FILE");
    add_inference_options(predict_, predict_args_.inference);
  }

  void define_average() {
    average_ = app_.add_subcommand(
        "average",
        "Average the weights of several checkpoints of a run (e.g. its last few) into a new checkpoint, for eval, "
        "predict, generate or init_from; it holds no optimizer state and cannot be resumed");
    average_
        ->add_option("checkpoints", average_args_.checkpoints,
                     "Checkpoint directories (a run directory stands for its newest valid checkpoint); with --last, "
                     "one run directory")
        ->required()
        ->type_name("CHECKPOINT...");
    average_->add_option("--last", average_args_.last, "Average the N newest valid checkpoints of the run directory given")
        ->check(CLI::Range(int64_t{2}, std::numeric_limits<int64_t>::max()))
        ->type_name("N");
    average_->add_option("--output", average_args_.output, "New directory to write the averaged checkpoint into")
        ->required()
        ->type_name("DIR");
  }

  // CLI11's message plus where to get help; a misspelled command gets a suggestion instead.
  std::string usage_error(const CLI::ParseError& e, int argc, const char* const* argv) {
    const std::vector<CLI::App*> selected = app_.get_subcommands();
    if (selected.empty() && argc > 1 && argv[1][0] != '-') {
      std::vector<std::string> commands;
      for (const CLI::App* command : app_.get_subcommands({})) commands.push_back(command->get_name());
      return "unknown command '" + std::string(argv[1]) + "'" + suggestion_suffix(argv[1], commands) +
             " (see 'tapelm --help')";
    }
    const std::string help = selected.empty() ? "tapelm --help" : "tapelm " + selected.front()->get_name() + " --help";
    return std::string(e.what()) + " (see '" + help + "')";
  }

  CLI::App app_;
  PretrainArgs pretrain_args_;
  FinetuneArgs finetune_args_;
  CheckArgs check_args_;
  GenerateArgs generate_args_;
  EvalArgs eval_args_;
  PredictArgs predict_args_;
  AverageArgs average_args_;
  CLI::App* pretrain_ = nullptr;
  CLI::App* finetune_ = nullptr;
  CLI::App* check_ = nullptr;
  CLI::App* generate_ = nullptr;
  CLI::App* eval_ = nullptr;
  CLI::App* predict_ = nullptr;
  CLI::App* average_ = nullptr;
  CLI::Option* pretrain_resume_ = nullptr;
  CLI::Option* finetune_resume_ = nullptr;
};

}  // namespace

int run_cli(int argc, const char* const* argv) {
  try {
    CommandLine command_line;
    if (const std::optional<int> stop = command_line.parse(argc, argv)) return *stop;
    return command_line.dispatch();
  } catch (const InputError& e) {
    print_error(e.what());
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    print_error("out of memory");
    return kExitFailure;
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitFailure;
  } catch (...) {
    print_error("unexpected internal error");
    return kExitFailure;
  }
}

}  // namespace tapelm
