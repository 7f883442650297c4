// Fine-tuning's data order, losses and evaluations, and building its task on every rank.
#include <tapelm/train/tasks/labeled_training_task.h>

#include <algorithm>
#include <stdexcept>

#include <tapelm/data/atomic_file.h>
#include <tapelm/optim/param_groups.h>
#include <tapelm/train/loop/distributed.h>
#include <tapelm/train/config/errors.h>
#include <tapelm/train/checkpoint/finetune_checkpoint.h>
#include <tapelm/train/tasks/classification_baselines.h>
#include <tapelm/train/tasks/sharded_evaluation.h>

namespace tapelm {
namespace fs = std::filesystem;
namespace {

// Keeps the example order independent of the init and dropout streams of the same seed.
constexpr uint64_t kShufflerSalt = 0xBB67AE8584CAA73Bull;

LengthGrouping length_grouping(const FinetuneConfig& config, const std::vector<TrainingItem>& items) {
  LengthGrouping grouping;
  if (!config.data.group_by_length) return grouping;
  grouping.group_size = size_t(config.train.micro_batch_size);
  grouping.lengths.reserve(items.size());
  for (const TrainingItem& item : items) grouping.lengths.push_back(item.length);
  return grouping;
}

// The sampler draws positions in the item list: a permutation of positions is the same
// whatever the items are, so whole examples are drawn in the order they always were.
std::vector<size_t> positions(size_t n) {
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  return all;
}

// What a resumed run must not change.
std::string architecture_yaml(const FinetuneConfig& c) {
  FinetuneConfig shape;
  shape.out_dir = "-";
  shape.task = c.task;
  shape.model = c.model;
  shape.model.dropout = 0;
  shape.classification.pooling = c.classification.pooling;
  shape.seq2seq = c.seq2seq;
  return to_yaml(shape);
}

// For a classifier, data.max_windows and, with more than one window, the window length
// (data.max_len) are part of how it scores a document, as its pooling is: a document's logits are
// the mean of those windows'. Changing them would continue training another model.
void check_same_windowing(const FinetuneConfig& before, const FinetuneConfig& now, const Checkpoint& checkpoint) {
  std::string changed;
  const auto compare = [&](const std::string& key, int64_t then, int64_t value) {
    if (then == value) return;
    changed += "; " + key + " is " + std::to_string(then) + " in the checkpoint but " + std::to_string(value) + " now";
  };
  compare("data.max_windows", before.data.max_windows, now.data.max_windows);
  if (changed.empty() && now.data.max_windows > 1) compare("data.max_len", before.max_len(), now.max_len());
  if (!changed.empty()) {
    throw ConfigError("--resume " + checkpoint.dir.string() + ": how documents are read in windows cannot change when resuming" +
                      changed + " (restore the value the run started with, or start a new run in another out_dir)");
  }
}

void check_resumable(const FinetuneConfig& config, const Checkpoint& checkpoint) {
  const FinetuneConfig before = finetune_checkpoint_config(checkpoint);
  if (architecture_yaml(before) != architecture_yaml(config)) {
    throw ConfigError("--resume: the task or model architecture differs from " + checkpoint.dir.string() +
                      "'s config.yaml (task, init_from's architecture, model.*, classification.pooling); " +
                      "resume with the config the run started with");
  }
  check_same_windowing(before, config, checkpoint);
}

FinetuneData load_data(const FinetuneConfig& config, bool new_run, std::ostream& log) {
  const fs::path split_file = fs::path(config.out_dir) / "split.json";
  if (new_run) fs::remove(split_file);  // a new run splits anew
  FinetuneData data = load_finetune_data(config, split_file);
  log << "data: " << data.examples.size() << " examples; split " << data.split.train.size() << " train / "
      << data.split.val.size() << " val / " << data.split.test.size() << " test (" << split_file.string() << ")"
      << std::endl;
  return data;
}

std::unique_ptr<FinetuneTask> build_task(const FinetuneConfig& config, const FinetuneData& data,
                                         const Checkpoint* restore_from, const Checkpoint* init_from,
                                         std::ostream& log) {
  TaskSetup setup;
  setup.config = &config;
  setup.log = &log;
  setup.work_dir = config.out_dir;
  setup.examples = &data.examples;
  setup.train_indices = &data.split.train;
  setup.restore_from = restore_from;
  setup.init_from = restore_from ? nullptr : init_from;
  return make_finetune_task(setup);
}

}  // namespace

LabeledTrainingTask::LabeledTrainingTask(const FinetuneConfig& config, FinetuneData data,
                                         std::unique_ptr<FinetuneTask> task)
    : config_(config),
      data_(std::move(data)),
      task_(std::move(task)),
      items_(whole_examples(data_.examples, data_.split.train)),
      sampler_(positions(items_.size()), uint64_t(config.seed) ^ kShufflerSalt, length_grouping(config, items_)) {}

std::vector<ParamGroup> LabeledTrainingTask::param_groups() const {
  NamedParameters trainable;
  for (const auto& named : task_->model().named_parameters()) {
    if (named.second.requires_grad()) trainable.push_back(named);
  }
  std::vector<ParamGroup> groups;
  for (ParamGroup& group : weight_decay_groups(trainable, config_.optimizer.weight_decay)) {
    ParamGroup head{"head_" + group.name, {}, config_.classification.head_lr_scale, group.weight_decay};
    ParamGroup body{group.name, {}, 1.0, group.weight_decay};
    for (auto& named : group.params) (task_->is_head_parameter(named.first) ? head : body).params.push_back(named);
    groups.push_back(std::move(body));
    groups.push_back(std::move(head));
  }
  return groups;
}

void LabeledTrainingTask::draw_batch(int64_t batch_size) { batch_ = sampler_.next(size_t(batch_size)); }

WeightedLoss LabeledTrainingTask::loss(int64_t step, int64_t begin, int64_t end) {
  task_->set_dropout_batch(step, begin);
  std::vector<TrainingItem> micro;
  for (auto at = batch_.begin() + begin; at != batch_.begin() + end; ++at) micro.push_back(items_[*at]);
  return task_->loss(data_.examples, micro);
}

double LabeledTrainingTask::micro_batch_cost(int64_t begin, int64_t end) const {
  // Without grouping a micro-batch mixes lengths, so micro-batches cost about the same, and
  // dealing them out in turn keeps the shares (and sums) such runs always had.
  if (!config_.data.group_by_length) return TrainingTask::micro_batch_cost(begin, end);
  size_t longest = 0;
  for (auto at = batch_.begin() + begin; at != batch_.begin() + end; ++at) longest = std::max(longest, items_[*at].length);
  return double(end - begin) * double(longest);
}

bool LabeledTrainingTask::has_split(Split split) const {
  return split == Split::kVal ? !data_.split.val.empty() : !data_.split.test.empty();
}

int64_t LabeledTrainingTask::split_examples(Split split) const {
  return int64_t(split == Split::kVal ? val_indices().size() : data_.split.test.size());
}

std::vector<size_t> LabeledTrainingTask::val_indices() const {
  // Data files are often sorted (a dictionary is alphabetical), so the first N would not be
  // representative.
  const std::vector<size_t>& all = data_.split.val;
  const size_t cap = size_t(config_.eval.max_examples);
  if (cap == 0 || all.size() <= cap) return all;
  std::vector<size_t> indices(cap);
  for (size_t i = 0; i < cap; ++i) indices[i] = all[i * all.size() / cap];
  return indices;
}

TaskEvaluation LabeledTrainingTask::evaluate(Split split, const Distributed* dist) {
  const std::vector<size_t> indices = split == Split::kVal ? val_indices() : data_.split.test;
  TaskEvaluation evaluation = evaluate_sharded(*task_, data_.examples, indices, config_.eval.batch_size, dist);
  if (split == Split::kTest && (!dist || dist->is_root()) && wants_classification_baselines(config_)) {
    add_classification_baselines(evaluation, config_.classification.baselines, data_.examples, data_.split.train, data_.examples, indices);
  }
  return evaluation;
}

nlohmann::json LabeledTrainingTask::sampler_state() const {
  const EpochSamplerState s = sampler_.state();
  return {{"seed", s.seed}, {"epoch", s.epoch}, {"position", s.position}};
}

void LabeledTrainingTask::restore_sampler(const nlohmann::json& state) {
  try {
    sampler_.restore({state.at("seed").get<uint64_t>(), state.at("epoch").get<int64_t>(),
                      state.at("position").get<int64_t>()});
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("sampler: expected {\"seed\", \"epoch\", \"position\"} (") + e.what() +
                                ")");
  }
}

std::string describe_windows(const FinetuneConfig& config) {
  if (config.data.max_windows == 1) return "";
  return "documents: read in up to " + std::to_string(config.data.max_windows) + " windows of at most " +
         std::to_string(config.max_len()) + " tokens (data.max_windows); a document's logits are the mean of its "
         "windows', so a micro-batch of " + std::to_string(config.train.micro_batch_size) + " documents is up to " +
         std::to_string(config.train.micro_batch_size * config.data.max_windows) + " windows";
}

std::unique_ptr<LabeledTrainingTask> make_labeled_training_task(const FinetuneConfig& config,
                                                                const std::optional<Checkpoint>& init_from,
                                                                const std::optional<Checkpoint>& resume_from,
                                                                const Distributed* dist, std::ostream& log) {
  const bool root = !dist || dist->is_root();
  const bool several = dist && dist->world_size() > 1;
  const Checkpoint* init = init_from ? &*init_from : nullptr;
  std::unique_ptr<FinetuneTask> task;
  FinetuneData data;
  if (root) {
    if (resume_from) check_resumable(config, *resume_from);
    data = load_data(config, !resume_from, log);
    task = build_task(config, data, resume_from ? &*resume_from : nullptr, init, log);
  }
  if (several) {
    // The other ranks rebuild rank 0's task from its files, in a folder named like every
    // temporary so that a killed job's is removed by the next run.
    std::string setup_dir;
    if (root) {
      setup_dir = temp_path_for((fs::path(config.out_dir) / "rank0-task").string());
      write_checkpoint(setup_dir, 0, task->checkpoint_files());
    }
    dist->broadcast(setup_dir);
    if (!root) {
      std::ostream silent(nullptr);
      data = load_data(config, /*new_run=*/false, silent);
      const Checkpoint files = verify_checkpoint(fs::path(setup_dir) / "checkpoints" / checkpoint_dir_name(0));
      task = build_task(config, data, &files, nullptr, silent);
    }
    dist->barrier();
    if (root) fs::remove_all(setup_dir);
  }
  const std::string windows = describe_windows(config);
  if (root && !windows.empty()) log << windows << std::endl;
  return std::make_unique<LabeledTrainingTask>(config, std::move(data), std::move(task));
}

}  // namespace tapelm
