// Config comparison and abandoned-checkpoint handling for --resume.
#include <tapelm/train/checkpoint/resume.h>

#include <yaml-cpp/yaml.h>

#include <tapelm/data/atomic_file.h>
#include <tapelm/train/checkpoint/fs_util.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace fs = std::filesystem;
namespace {

std::string yaml_text(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

bool is_architecture_key(const std::string& key) {
  return key.rfind("model.", 0) == 0 || (key.rfind("tokenizer.", 0) == 0 && key != "tokenizer.model");
}

}  // namespace

std::vector<ConfigChange> config_changes(const PretrainConfig& before, const PretrainConfig& after) {
  const YAML::Node a = YAML::Load(to_yaml(before));
  const YAML::Node b = YAML::Load(to_yaml(after));
  std::vector<ConfigChange> changes;
  const auto compare = [&](const std::string& key, const YAML::Node& x, const YAML::Node& y) {
    const std::string old_text = yaml_text(x), new_text = yaml_text(y);
    if (old_text != new_text) changes.push_back({key, old_text, new_text});
  };
  for (const auto& entry : b) {
    const std::string name = entry.first.as<std::string>();
    if (!entry.second.IsMap()) {
      compare(name, a[name], entry.second);
      continue;
    }
    for (const auto& item : entry.second) {
      const std::string key = item.first.as<std::string>();
      compare(name + "." + key, a[name][key], item.second);
    }
  }
  return changes;
}

std::vector<ConfigChange> check_resume_config(const Checkpoint& checkpoint, const PretrainConfig& before,
                                              const PretrainConfig& now) {
  std::vector<ConfigChange> allowed;
  std::string refused;
  for (const ConfigChange& change : config_changes(before, now)) {
    if (is_architecture_key(change.key)) {
      refused += "; " + change.key + " is " + change.before + " in the checkpoint but " + change.after + " now";
    } else if (change.key != "tokenizer.model") {
      allowed.push_back(change);
    }
  }
  if (!now.tokenizer.model.empty() && read_file(now.tokenizer.model) != read_file(checkpoint.file(kTokenizerFile))) {
    refused += "; tokenizer.model " + now.tokenizer.model + " is not the tokenizer the checkpoint was trained with";
  }
  if (!refused.empty()) {
    throw ConfigError("--resume " + checkpoint.dir.string() + ": the architecture cannot change when resuming" +
                      refused + " (restore these keys, or start a new run in another out_dir)");
  }
  return allowed;
}

fs::path abandoned_dir(const fs::path& out_dir) { return out_dir / "abandoned"; }

std::vector<std::string> set_aside_checkpoints(const fs::path& out_dir, const fs::path& root, int64_t after_step,
                                               const std::string& prefix) {
  std::vector<std::string> lines;
  for (const CheckpointDir& dir : list_checkpoint_dirs(root)) {
    if (dir.step <= after_step) continue;
    std::string state = "valid";
    try {
      verify_checkpoint(dir.dir);
    } catch (const CheckpointError& e) {
      state = std::string("corrupted: ") + e.what();
    }
    const fs::path aside = abandoned_dir(out_dir);
    fs::create_directories(aside);
    const std::string name = prefix + dir.dir.filename().string();
    fs::path target = aside / name;
    for (int n = 2; fs::exists(target); ++n) target = aside / (name + "." + std::to_string(n));
    fs::rename(dir.dir, target);
    fsync_directory(aside);
    fsync_directory(dir.dir.parent_path());
    lines.push_back(name + (after_step < 0 ? " was left by an earlier run"
                                           : " is newer than step " + std::to_string(after_step) +
                                                 " and belongs to the abandoned run") +
                    " (" + state + "); set aside as " + target.string());
  }
  return lines;
}

}  // namespace tapelm
