// Averaging checkpoints' weights into a new checkpoint.
#include <tapelm/train/checkpoint/average_checkpoints.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <yaml-cpp/yaml.h>

#include <tapelm/data/atomic_file.h>
#include <tapelm/nn/safetensors.h>
#include <tapelm/train/checkpoint/trainer_state.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace fs = std::filesystem;
namespace {

// Files that differ between checkpoints of one run, so they are not compared between inputs:
// the weights and the training state (which the average does not carry), config.yaml (compared
// by its model section; a resumed run may have changed other keys) and an earlier average's record.
bool is_training_state_file(const std::string& name) {
  static const std::set<std::string> names = {kWeightsFile,      kTrainWeightsFile,    kOptimizerFile, kTrainerStateFile,
                                              kFinetuneStateFileV1, kConfigFile, kAverageFile};
  return names.count(name) > 0;
}

// The task's files (tokenizers, labels) by name, with their checksums.
std::map<std::string, uint32_t> task_files(const Checkpoint& checkpoint) {
  std::map<std::string, uint32_t> files;
  for (const ManifestEntry& entry : checkpoint.files) {
    if (!is_training_state_file(entry.name)) files[entry.name] = entry.crc32c;
  }
  return files;
}

// Every input must read its token ids and labels as the newest one does.
void require_same_task_files(const std::vector<Checkpoint>& inputs, const Checkpoint& newest) {
  const std::map<std::string, uint32_t> expected = task_files(newest);
  for (const Checkpoint& input : inputs) {
    const std::map<std::string, uint32_t> files = task_files(input);
    for (const auto& [name, crc] : expected) {
      const auto found = files.find(name);
      if (found == files.end()) {
        throw CheckpointError((input.dir / name).string() + ": missing, but " + (newest.dir / name).string() +
                              " exists: the checkpoints come from different kinds of run");
      }
      if (found->second != crc) {
        throw CheckpointError((input.dir / name).string() + ": differs from " + (newest.dir / name).string() +
                              ": checkpoints to average must share their tokenizers and labels (one run's checkpoints do)");
      }
    }
    for (const auto& [name, crc] : files) {
      if (expected.count(name) == 0) {
        throw CheckpointError((input.dir / name).string() + ": not in " + newest.dir.string() +
                              ": the checkpoints come from different kinds of run");
      }
    }
  }
}

// Every input must describe the newest one's architecture: settings such as model.n_head or
// model.norm leave every tensor's shape alone but change what the weights mean. Dropout may
// differ (it is not part of the model's function).
void require_same_architecture(const std::vector<Checkpoint>& inputs, const Checkpoint& newest) {
  const fs::path expected_path = newest.file(kConfigFile);
  const YAML::Node expected = load_from(expected_path, [&] { return YAML::LoadFile(expected_path.string()); })["model"];
  for (const Checkpoint& input : inputs) {
    const fs::path path = input.file(kConfigFile);
    const YAML::Node model = load_from(path, [&] { return YAML::LoadFile(path.string()); })["model"];
    for (const auto& entry : expected) {
      const std::string key = entry.first.as<std::string>();
      if (key == "dropout") continue;
      const std::string want = YAML::Dump(entry.second), got = model ? YAML::Dump(model[key]) : "";
      if (want != got) {
        throw CheckpointError(path.string() + ": model." + key + " is " + (got.empty() ? "not set" : got) + ", " +
                              expected_path.string() + " has " + want + ": the checkpoints hold different models");
      }
    }
  }
}

std::string shape_text(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// Sums of the inputs' weights, tensor by tensor, in double precision.
class WeightSums {
 public:
  void add(const Checkpoint& input) {
    const fs::path path = input.file(kWeightsFile);
    const SafetensorsContents contents = load_from(path, [&] { return load_safetensors(path.string()); });
    if (sums_.empty()) {
      first_ = path;
      for (const auto& [name, tensor] : contents.tensors) {
        shapes_[name] = tensor.shape();
        sums_[name].assign(tensor.data(), tensor.data() + tensor.numel());
      }
      count_ = 1;
      return;
    }
    for (const auto& [name, shape] : shapes_) {
      const auto found = contents.tensors.find(name);
      if (found == contents.tensors.end()) {
        throw CheckpointError(path.string() + ": has no tensor '" + name + "', which " + first_.string() +
                              " has: the checkpoints hold different models");
      }
      if (found->second.shape() != shape) {
        throw CheckpointError(path.string() + ": tensor '" + name + "' has shape " + shape_text(found->second.shape()) +
                              ", " + first_.string() + " has " + shape_text(shape) +
                              ": the checkpoints hold different models");
      }
    }
    for (const auto& [name, tensor] : contents.tensors) {
      if (shapes_.count(name) == 0) {
        throw CheckpointError(path.string() + ": tensor '" + name + "' is not in " + first_.string() +
                              ": the checkpoints hold different models");
      }
      std::vector<double>& sum = sums_[name];
      const float* values = tensor.data();
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += values[i];
    }
    ++count_;
  }

  // Frees each tensor's sums once its mean is made, so the peak stays near the sums' size.
  NamedTensors take_mean() {
    NamedTensors tensors;
    for (auto& [name, sum] : sums_) {
      Tensor tensor(shapes_.at(name));
      float* values = tensor.data();
      for (size_t i = 0; i < sum.size(); ++i) values[i] = static_cast<float>(sum[i] / count_);
      tensors.emplace_back(name, std::move(tensor));
      std::vector<double>().swap(sum);
    }
    return tensors;
  }

 private:
  fs::path first_;
  std::map<std::string, Shape> shapes_;
  std::map<std::string, std::vector<double>> sums_;
  int64_t count_ = 0;
};

// out_dir must hold no run: nothing, or a checkpoints/ folder with only the temporaries of an
// average that was interrupted (removed here).
void prepare_out_dir(const fs::path& out_dir) {
  std::error_code ec;
  if (!fs::exists(out_dir, ec)) return;
  if (!fs::is_directory(out_dir, ec)) throw InputError("--output " + out_dir.string() + ": exists and is not a directory");
  for (const fs::directory_entry& entry : fs::directory_iterator(out_dir)) {
    if (entry.path().filename() != "checkpoints") {
      throw InputError("--output " + out_dir.string() + ": not empty (holds " + entry.path().filename().string() +
                       "); averaged checkpoints go into a new directory");
    }
  }
  const fs::path checkpoints = checkpoints_dir(out_dir);
  if (!fs::is_directory(checkpoints, ec)) return;
  remove_temporaries(checkpoints.string(), StaleTemporaries::kOwnerGone);
  if (!fs::is_empty(checkpoints, ec)) {
    throw InputError("--output " + out_dir.string() + ": already holds checkpoints; averaged checkpoints go into a new directory");
  }
}

// The input with the highest step (the later one given on a tie): it supplies the config and
// task files, and its step names the average.
const Checkpoint& newest_of(const std::vector<Checkpoint>& inputs) {
  const Checkpoint* newest = &inputs.front();
  for (const Checkpoint& input : inputs) {
    if (input.step >= newest->step) newest = &input;
  }
  return *newest;
}

std::string average_json(const std::vector<Checkpoint>& inputs) {
  nlohmann::ordered_json record;
  record["format"] = "tapelm-average";
  record["version"] = 1;
  record["checkpoints"] = nlohmann::ordered_json::array();
  for (const Checkpoint& input : inputs) {
    record["checkpoints"].push_back({{"dir", fs::absolute(input.dir).lexically_normal().string()}, {"step", input.step}});
  }
  return record.dump(2) + "\n";
}

}  // namespace

std::vector<Checkpoint> newest_checkpoints(const fs::path& given, int64_t count, std::vector<std::string>* skipped) {
  fs::path run_dir = given.has_filename() ? given : given.parent_path();  // "runs/g2p/"
  if (run_dir.filename() == "checkpoints") run_dir = run_dir.parent_path();
  if (!fs::is_directory(checkpoints_dir(run_dir))) {
    throw CheckpointError(run_dir.string() + ": not a run directory (no checkpoints/)");
  }
  const std::vector<CheckpointDir> dirs = list_checkpoint_dirs(run_dir);
  std::vector<Checkpoint> found;
  for (auto it = dirs.rbegin(); it != dirs.rend() && int64_t(found.size()) < count; ++it) {
    try {
      found.push_back(verify_checkpoint(it->dir));
    } catch (const CheckpointError& e) {
      if (skipped != nullptr) skipped->push_back(std::string("skipping ") + e.what());
    }
  }
  return found;
}

std::vector<CheckpointFile> averaged_checkpoint_files(const std::vector<Checkpoint>& inputs) {
  if (inputs.size() < 2) {
    throw InputError("average: at least 2 checkpoints expected, got " + std::to_string(inputs.size()));
  }
  std::set<fs::path> seen;
  for (const Checkpoint& input : inputs) {
    if (!seen.insert(fs::weakly_canonical(input.dir)).second) {
      throw InputError(input.dir.string() + ": given twice; each checkpoint counts once in the average");
    }
  }
  const Checkpoint& newest = newest_of(inputs);
  require_same_task_files(inputs, newest);
  require_same_architecture(inputs, newest);

  WeightSums sums;
  for (const Checkpoint& input : inputs) sums.add(input);
  const TensorMetadata metadata = {{"step", std::to_string(newest.step)},
                                   {"averaged_checkpoints", std::to_string(inputs.size())}};
  std::vector<CheckpointFile> files;
  files.push_back(CheckpointFile{kWeightsFile, [mean = sums.take_mean(), metadata](const fs::path& path) {
                                   save_safetensors(path.string(), mean, metadata);
                                 }});
  files.push_back(CheckpointFile::copy_of(kConfigFile, newest.file(kConfigFile)));
  for (const auto& [name, crc] : task_files(newest)) files.push_back(CheckpointFile::copy_of(name, newest.file(name)));
  files.push_back(CheckpointFile::from_bytes(kAverageFile, average_json(inputs)));
  return files;
}

Checkpoint average_checkpoints(const std::vector<Checkpoint>& inputs, const fs::path& out_dir) {
  prepare_out_dir(out_dir);  // before reading every input: a wrong --output fails at once
  const std::vector<CheckpointFile> files = averaged_checkpoint_files(inputs);
  return write_checkpoint(out_dir, newest_of(inputs).step, files);
}

void require_resumable(const Checkpoint& checkpoint) {
  if (!checkpoint.has(kAverageFile)) return;
  throw CheckpointError(checkpoint.dir.string() +
                        " is an average of checkpoints (tapelm average): a model with no optimizer or trainer state "
                        "to continue from; evaluate, predict or generate with it, or start a new run from it "
                        "(a pretraining average as init_from)");
}

}  // namespace tapelm
