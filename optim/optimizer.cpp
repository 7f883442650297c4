// Optimizer bookkeeping: groups, skipping parameters without gradients, state export/restore.
#include <tapelm/optim/optimizer.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

namespace tapelm {

template <>
const EnumNames<OptimizerKind>& enum_names<OptimizerKind>() {
  static const EnumNames<OptimizerKind> names(
      "optimizer", {{OptimizerKind::AdamW, "adamw"}, {OptimizerKind::Adam, "adam"}, {OptimizerKind::Sgd, "sgd"}});
  return names;
}

namespace {

constexpr const char* kKindKey = "optimizer";
const std::string kStepPrefix = "step.";

bool is_optimizer_key(const std::string& key) { return key == kKindKey || key.rfind(kStepPrefix, 0) == 0; }

std::string list_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

int64_t parse_step(const std::string& text, const std::string& key) {
  std::size_t used = 0;
  long long value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < 0) {
    throw std::runtime_error("Optimizer::load_state: metadata '" + key + "' = '" + text +
                             "' is not a non-negative integer");
  }
  return value;
}

}  // namespace

Optimizer::Optimizer(std::string kind, std::vector<ParamGroup> groups, std::vector<std::string> buffer_names)
    : kind_(std::move(kind)), groups_(std::move(groups)), buffer_names_(std::move(buffer_names)) {
  std::set<std::string> names;
  std::set<const VarImpl*> vars;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    if (!std::isfinite(group.lr_scale) || group.lr_scale < 0 || !std::isfinite(group.weight_decay) ||
        group.weight_decay < 0) {
      throw std::invalid_argument(kind_ + ": group '" + group.name + "' needs finite lr_scale >= 0 and " +
                                  "weight_decay >= 0, got lr_scale " + std::to_string(group.lr_scale) +
                                  ", weight_decay " + std::to_string(group.weight_decay));
    }
    for (const auto& [name, var] : group.params) {
      if (!var.defined()) throw std::invalid_argument(kind_ + ": parameter '" + name + "' is undefined");
      if (!names.insert(name).second) {
        throw std::invalid_argument(kind_ + ": parameter name '" + name + "' appears twice");
      }
      // The same tensor twice would be updated twice per step.
      if (!vars.insert(var.impl()).second) {
        throw std::invalid_argument(kind_ + ": parameter '" + name + "' is the same variable as an earlier one");
      }
      Slot slot{name, var, {}, 0, g};
      for (std::size_t b = 0; b < buffer_names_.size(); ++b) slot.buffers.push_back(Tensor::zeros(var.shape()));
      slots_.push_back(std::move(slot));
    }
  }
}

void Optimizer::step(double lr) {
  if (!std::isfinite(lr) || lr < 0) {
    throw std::invalid_argument(kind_ + "::step: learning rate must be finite and >= 0, got " + std::to_string(lr));
  }
  std::vector<Slot*> due;
  int64_t elements = 0;
  for (Slot& slot : slots_) {
    if (!slot.param.has_grad()) continue;
    if (slot.param.grad().shape() != slot.param.shape()) {
      throw std::logic_error(kind_ + "::step: gradient of '" + slot.name + "' has shape " +
                             shape_str(slot.param.grad().shape()) + ", parameter " + shape_str(slot.param.shape()));
    }
    due.push_back(&slot);
    elements += slot.param.numel();
  }
  for (Slot* slot : due) ++slot->step;
  // One fork/join for the whole step instead of one per parameter tensor: each of those
  // regions is a rendezvous, and on a busy machine each waits for a descheduled thread.
#pragma omp parallel if (elements >= kParallelUpdateThreshold)
  for (Slot* slot : due) {
    const ParamGroup& group = groups_[slot->group];
    update(*slot, lr * group.lr_scale, group.weight_decay);
  }
}

void Optimizer::zero_grad() {
  for (Slot& slot : slots_) slot.param.zero_grad();
}

int64_t Optimizer::step_count(const std::string& param_name) const {
  for (const Slot& slot : slots_) {
    if (slot.name == param_name) return slot.step;
  }
  throw std::invalid_argument(kind_ + "::step_count: no parameter named '" + param_name + "'");
}

OptimizerState Optimizer::state() const {
  OptimizerState state;
  state.metadata[kKindKey] = kind_;
  for (const Slot& slot : slots_) {
    for (std::size_t b = 0; b < buffer_names_.size(); ++b) {
      state.tensors.emplace_back(buffer_names_[b] + "." + slot.name, slot.buffers[b]);
    }
    state.metadata[kStepPrefix + slot.name] = std::to_string(slot.step);
  }
  return state;
}

void Optimizer::load_state(const OptimizerState& state) {
  const std::string where = kind_ + "::load_state: ";
  auto kind = state.metadata.find(kKindKey);
  if (kind == state.metadata.end()) throw std::runtime_error(where + "metadata has no '" + kKindKey + "' entry");
  if (kind->second != kind_) {
    throw std::runtime_error(where + "state was saved by optimizer '" + kind->second + "', not '" + kind_ + "'");
  }

  std::map<std::string, const Tensor*> tensors;
  for (const auto& [name, tensor] : state.tensors) {
    if (!tensors.emplace(name, &tensor).second) throw std::runtime_error(where + "tensor '" + name + "' appears twice");
  }
  std::set<std::string> used, expected_steps;
  std::vector<std::string> missing, mismatched;
  std::vector<int64_t> steps;
  for (const Slot& slot : slots_) {
    for (std::size_t b = 0; b < buffer_names_.size(); ++b) {
      const std::string name = buffer_names_[b] + "." + slot.name;
      auto it = tensors.find(name);
      if (it == tensors.end()) {
        missing.push_back(name);
      } else {
        used.insert(name);
        if (it->second->shape() != slot.param.shape()) {
          mismatched.push_back("'" + name + "': state " + shape_str(it->second->shape()) + ", parameter " +
                               shape_str(slot.param.shape()));
        }
      }
    }
    const std::string key = kStepPrefix + slot.name;
    expected_steps.insert(key);
    auto step = state.metadata.find(key);
    if (step == state.metadata.end()) {
      missing.push_back(key + " (metadata)");
    } else {
      steps.push_back(parse_step(step->second, key));
    }
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, _] : tensors) {
    if (!used.count(name)) unexpected.push_back(name);
  }
  for (const auto& [key, _] : state.metadata) {
    if (key.rfind(kStepPrefix, 0) == 0 && !expected_steps.count(key)) unexpected.push_back(key + " (metadata)");
  }
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string what = where + "state does not match the optimizer's parameters:";
    if (!missing.empty()) what += "\n  missing: " + list_names(missing);
    if (!unexpected.empty()) what += "\n  unexpected: " + list_names(unexpected);
    for (const std::string& m : mismatched) what += "\n  shape mismatch " + m;
    throw std::runtime_error(what);
  }

  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    for (std::size_t b = 0; b < buffer_names_.size(); ++b) {
      const Tensor& src = *tensors.at(buffer_names_[b] + "." + slot.name);
      std::copy(src.data(), src.data() + src.numel(), slot.buffers[b].data());
    }
    slot.step = steps[i];
  }
}

void save_optimizer_state(const std::string& path, const Optimizer& optimizer, const TensorMetadata& metadata) {
  OptimizerState state = optimizer.state();
  for (const auto& [key, value] : metadata) {
    if (is_optimizer_key(key)) {
      throw std::invalid_argument("save_optimizer_state: metadata key '" + key + "' is reserved for the optimizer");
    }
    state.metadata[key] = value;
  }
  save_safetensors(path, state.tensors, state.metadata);
}

TensorMetadata load_optimizer_state(const std::string& path, Optimizer& optimizer) {
  SafetensorsContents contents = load_safetensors(path);
  OptimizerState state;
  for (auto& [name, tensor] : contents.tensors) state.tensors.emplace_back(name, std::move(tensor));
  TensorMetadata rest;
  for (auto& [key, value] : contents.metadata) (is_optimizer_key(key) ? state.metadata : rest)[key] = value;
  try {
    optimizer.load_state(state);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("optimizer state '" + path + "': " + e.what());
  }
  return rest;
}

}  // namespace tapelm
