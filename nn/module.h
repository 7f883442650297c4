// Module: the base of every layer and model. Parameters and submodules are registered by
// name, so `named_parameters()` yields dotted names (`blocks.3.attn.qkv.weight`) in
// registration order; those names are the checkpoint keys.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <tapelm/autograd/variable.h>

namespace tapelm {

using NamedParameters = std::vector<std::pair<std::string, Var>>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter of this module and its descendants, depth-first in registration order.
  NamedParameters named_parameters() const;
  std::vector<Var> parameters() const;
  int64_t num_parameters() const;

  // Train mode turns dropout on; eval mode off. Applies to every descendant.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void zero_grad() const;

 protected:
  Var register_parameter(const std::string& name, Tensor value, bool requires_grad = true);

  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    check_name(name);
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void check_name(const std::string& name) const;
  void collect(const std::string& prefix, NamedParameters& out) const;

  NamedParameters params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Puts a model in eval mode for its scope and restores the mode it had.
class EvalMode {
 public:
  explicit EvalMode(Module& model) : model_(model), was_training_(model.is_training()) { model_.eval(); }
  ~EvalMode() { model_.train(was_training_); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  Module& model_;
  bool was_training_;
};

}  // namespace tapelm
