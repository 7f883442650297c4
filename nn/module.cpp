// Parameter registration and traversal for Module.
#include <tapelm/nn/module.h>

#include <stdexcept>

namespace tapelm {

void Module::check_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw std::invalid_argument("Module: name '" + name + "' must be non-empty and contain no '.'");
  }
  for (const auto& [existing, _] : params_) {
    if (existing == name) throw std::invalid_argument("Module: duplicate name '" + name + "'");
  }
  for (const auto& [existing, _] : children_) {
    if (existing == name) throw std::invalid_argument("Module: duplicate name '" + name + "'");
  }
}

Var Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_name(name);
  Var v(std::move(value), requires_grad);
  params_.emplace_back(name, v);
  return v;
}

void Module::collect(const std::string& prefix, NamedParameters& out) const {
  for (const auto& [name, v] : params_) out.emplace_back(prefix + name, v);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

NamedParameters Module::named_parameters() const {
  NamedParameters out;
  collect("", out);
  return out;
}

std::vector<Var> Module::parameters() const {
  std::vector<Var> out;
  for (auto& [_, v] : named_parameters()) out.push_back(v);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [_, v] : named_parameters()) n += v.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
}

void Module::zero_grad() const {
  for (const auto& [_, v] : named_parameters()) v.zero_grad();
}

}  // namespace tapelm
