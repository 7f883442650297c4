// `tapelm check`: the preparation steps of `tapelm pretrain` and `tapelm finetune` up to the
// first training step, each printing what it found.
#include <tapelm/train/cli/check.h>

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <yaml-cpp/yaml.h>

#include <tapelm/train/config/builders.h>
#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/cli/cli.h>
#include <tapelm/train/cli/commands.h>
#include <tapelm/train/checkpoint/finetune_checkpoint.h>
#include <tapelm/train/cli/finetune_commands.h>
#include <tapelm/train/tasks/finetune_data.h>
#include <tapelm/train/tasks/finetune_task.h>
#include <tapelm/train/tasks/labeled_training_task.h>
#include <tapelm/train/config/memory_budget.h>
#include <tapelm/train/tasks/pretrain_setup.h>
#include <tapelm/train/loop/progress.h>
#include <tapelm/train/loop/training_loop.h>

namespace tapelm {
namespace fs = std::filesystem;

ConfigKind config_kind(const std::string& path, const std::vector<std::string>& overrides) {
  for (const std::string& assignment : overrides) {
    if (assignment.rfind("task=", 0) == 0) return ConfigKind::kFinetune;
  }
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (root.IsMap() && root["task"]) return ConfigKind::kFinetune;
  } catch (const YAML::Exception&) {
  }
  return ConfigKind::kPretrain;
}

namespace {

// A directory of this process for the files a tokenizer trains from, removed on the way out
// (a run uses its out_dir, which check leaves alone).
class ScratchDirectory {
 public:
  ScratchDirectory() : path_(fs::temp_directory_path() / ("tapelm-check-" + std::to_string(::getpid()))) {}
  ~ScratchDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void print_header(const CheckArgs& args, const std::string& kind, const std::string& out_dir, std::ostream& out) {
  out << "tapelm check: " << args.config_path << ": " << kind << " config; out_dir " << out_dir
      << " (nothing is written there)" << std::endl;
  if (!list_checkpoint_dirs(out_dir).empty()) {
    out << "out_dir: already holds checkpoints; the run needs --resume to continue them (or another out_dir)"
        << std::endl;
  }
}

void print_memory(const MemoryEstimate& estimate, std::ostream& out) {
  out << "memory: estimated peak at least " << format_bytes(estimate.total_bytes()) << " ("
      << describe_memory(estimate) << "); ";
  const std::optional<MemoryBudget> budget = available_memory();
  if (budget) {
    out << "available " << format_bytes(budget->bytes) << " (" << budget->source << ")";
  } else {
    out << "available memory unknown";
  }
  out << std::endl;
}

// "compute: gemm onednn, bf16", after the warning line when bf16 cannot run here.
void print_compute(const TrainSection& train, std::ostream& out) {
  const std::string products = use_gemm(train, out);
  out << "compute: " << products << std::endl;
}

void print_averaging(const TrainSection& train, std::ostream& out) {
  if (train.ema_decay > 0) out << describe_ema(train.ema_decay) << std::endl;
}

void check_pretrain(const CheckArgs& args, std::ostream& out) {
  const PretrainConfig config = load_pretrain_run_config(args.config_path, args.overrides);
  print_header(args, "pretraining", config.out_dir, out);
  schedule_config(config);  // an impossible schedule throws
  const int64_t accumulation = accumulation_steps(config.train, 1);
  const PreparedData data = prepare_pretrain_data(config, "", out);
  const MemoryEstimate memory = estimate_memory(config.model, pretrain_memory_plan(config, data.tokenizer.vocab_size()));
  require_memory_fits(memory, config.train.memory_check, "the run", kTrainingMemoryHint);
  out << "model: " << format_double("%.0f", memory.parameters) << " parameters" << std::endl;
  out << describe_batches(config.train, accumulation, 1, config.model.ctx_len,
                         double(data.shards.train.size()) / double(config.model.ctx_len))
      << std::endl;
  print_averaging(config.train, out);
  print_compute(config.train, out);
  print_memory(memory, out);
}

// Per split, how many examples each label has: "train: bad 38 (50.0%), good 38 (50.0%)".
void print_class_balance(const FinetuneData& data, std::ostream& out) {
  out << "class balance:" << std::endl;
  const std::pair<const char*, const std::vector<size_t>*> splits[] = {
      {"train", &data.split.train}, {"val", &data.split.val}, {"test", &data.split.test}};
  for (const auto& [name, indices] : splits) {
    std::map<std::string, size_t> counts;
    for (size_t i : *indices) ++counts[data.examples[i].target];
    out << "  " << name << ":";
    const char* separator = " ";
    for (const auto& [label, count] : counts) {
      out << separator << label << " " << count << " ("
          << format_double("%.1f", 100.0 * double(count) / double(indices->size())) << "%)";
      separator = ", ";
    }
    out << std::endl;
  }
}

void check_finetune(const CheckArgs& args, std::ostream& out) {
  FinetuneConfig config = load_finetune_run_config(args.config_path, args.overrides);
  print_header(args, "fine-tuning (task " + config.task + ")", config.out_dir, out);
  std::vector<std::string> warnings;
  const std::optional<Checkpoint> init_from = resolve_init_from(config, &warnings);
  for (const std::string& warning : warnings) print_warning(warning);
  schedule_config(config.optimizer, config.scheduler, config.train.max_steps);  // an impossible schedule throws
  const FinetuneData data = load_finetune_data(config, /*split_file=*/{});
  const DataSplit& split = data.split;
  out << "data: " << data.examples.size() << " examples; split " << split.train.size() << " train / "
      << split.val.size() << " val / " << split.test.size() << " test" << std::endl;
  if (config.task == "classification") print_class_balance(data, out);

  const ScratchDirectory scratch;
  TaskSetup setup;
  setup.config = &config;
  setup.log = &out;
  setup.work_dir = scratch.path();
  setup.examples = &data.examples;
  setup.train_indices = &split.train;
  setup.init_from = init_from ? &*init_from : nullptr;
  const std::unique_ptr<FinetuneTask> task = make_finetune_task(setup);
  const MetricSpec metric = early_stopping_metric(task->metrics(), config.eval.metric, config.task);
  int64_t parameters = 0, trainable = 0;
  for (const auto& named : task->model().named_parameters()) {
    parameters += named.second.numel();
    if (named.second.requires_grad()) trainable += named.second.numel();
  }
  out << "model: " << parameters << " parameters (" << trainable << " trainable)" << std::endl;
  const std::string windows = describe_windows(config);
  if (!windows.empty()) out << windows << std::endl;
  const TrainSection& t = config.train;
  out << describe_batches(t, accumulation_steps(t, 1), 1, 1, double(split.train.size())) << "; early stopping on val "
      << metric.name << std::endl;
  print_averaging(t, out);
  print_compute(t, out);
  print_memory(estimate_memory(config.model, finetune_memory_plan(config)), out);
}

}  // namespace

int run_check(const CheckArgs& args) {
  if (config_kind(args.config_path, args.overrides) == ConfigKind::kFinetune) {
    check_finetune(args, std::cout);
  } else {
    check_pretrain(args, std::cout);
  }
  std::cout << "ok: the run would start" << std::endl;
  return kExitOk;
}

}  // namespace tapelm
