// `tapelm check CONFIG [--set key=value ...]`: validates a pretraining or fine-tuning config and
// its data the way the run would (reading, tokenizing, splitting) and prints the plan, without
// training and without touching out_dir. run_check is declared in train/cli/commands.h.
#pragma once

#include <string>
#include <vector>

namespace tapelm {

enum class ConfigKind { kPretrain, kFinetune };

// A fine-tuning config has a top-level `task` key (in the file or as --set task=...); anything
// else, including a file that cannot be read, is taken for pretraining, whose loader then
// reports the problem.
ConfigKind config_kind(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace tapelm
