// Rules for continuing a run from a checkpoint: which config changes are allowed (anything
// but the architecture: model.* and the tokenizer), and what happens to checkpoints newer
// than the one resumed from (left by the run being abandoned): they are set aside.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/config/pretrain_config.h>

namespace tapelm {

struct ConfigChange {
  std::string key;     // "optimizer.lr", or "seed" for a top-level key
  std::string before;  // the values as YAML text
  std::string after;
};

// Every key whose value differs, in schema order.
std::vector<ConfigChange> config_changes(const PretrainConfig& before, const PretrainConfig& after);

// Checks that `now` may continue `checkpoint`, whose run used `before` (its config.yaml).
// Throws ConfigError listing every architecture key that changed (model.*, tokenizer.*, and
// a tokenizer.model file whose contents differ from the checkpoint's tokenizer.model) with
// both values. Returns the other, allowed, changes for the log.
std::vector<ConfigChange> check_resume_config(const Checkpoint& checkpoint, const PretrainConfig& before,
                                              const PretrainConfig& now);

// <out_dir>/abandoned: checkpoints set aside on resume.
std::filesystem::path abandoned_dir(const std::filesystem::path& out_dir);

// The checkpoints under `root` (out_dir itself, or a folder of them such as <out_dir>/best) with
// a step above `after_step` (-1: all of them) belong to a run being abandoned: each (valid or
// corrupted) is moved into abandoned_dir(out_dir) as <prefix>step_N, never deleted, so the
// continued run's checkpoints cannot mix with them and nothing the user had is lost. Returns
// one log line per checkpoint set aside.
std::vector<std::string> set_aside_checkpoints(const std::filesystem::path& out_dir, const std::filesystem::path& root,
                                               int64_t after_step, const std::string& prefix = "");

}  // namespace tapelm
