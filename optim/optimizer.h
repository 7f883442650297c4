// Optimizer: the base of every update rule, over named parameter groups.
//
// Each group carries a learning-rate multiplier and a weight decay; `step(lr)` takes the
// step's base learning rate from the schedule (optim/schedule.h), so the optimizer holds
// no schedule. The per-parameter state (moment buffers, one flat tensor per parameter and
// buffer kind, plus a step count) is index-aligned with the parameters.
//
// Parameters without a gradient at a step are skipped entirely: value, moments and step
// count stay as they are (PyTorch's behaviour with grads set to None).
//
// Gradient accumulation over micro-batches needs nothing here: backward() adds into the
// existing gradients, so k backward passes before one step() sum k micro-batch gradients.
// Scaling each micro-batch loss by 1/k (to get the mean) is the trainer's job, as is
// calling zero_grad() after each step.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <tapelm/data/enum_names.h>
#include <tapelm/nn/module.h>
#include <tapelm/nn/safetensors.h>

namespace tapelm {

// The update rules (optim/adam.h, optim/sgd.h); their names (adamw | adam | sgd) are what
// kind() returns and what optimizer.name takes in configs.
enum class OptimizerKind { AdamW, Adam, Sgd };
template <>
const EnumNames<OptimizerKind>& enum_names<OptimizerKind>();

struct ParamGroup {
  std::string name;           // for logs and error messages, e.g. "decay"
  NamedParameters params;
  // Doubles, like PyTorch's Python floats, so per-step scalars round to float exactly as
  // torch's do (e.g. float(1 - lr·wd) rather than 1 - float(lr)·float(wd)).
  double lr_scale = 1.0;      // the group's learning rate is lr_scale · step(lr)
  double weight_decay = 0.0;  // its meaning (coupled L2 or decoupled) is the optimizer's
};

// The complete optimizer state as safetensors-ready tensors plus string metadata:
// tensors "<buffer>.<param name>" (e.g. "exp_avg.blocks.0.attn.qkv.weight") and metadata
// "optimizer" (the kind) and "step.<param name>" (the parameter's update count).
struct OptimizerState {
  NamedTensors tensors;
  TensorMetadata metadata;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient, at base learning rate `lr`.
  void step(double lr);
  // Drops every parameter's gradient (the next backward starts from zero).
  void zero_grad();

  const std::vector<ParamGroup>& groups() const { return groups_; }
  const std::string& kind() const { return kind_; }
  // How many updates the named parameter has received; throws for an unknown name.
  int64_t step_count(const std::string& param_name) const;

  // The tensors share the live buffers (no copy, so saving a large model's state costs no
  // extra memory): write them out before the next step, or clone them to keep a snapshot.
  OptimizerState state() const;
  // Restores a state produced by state() of an optimizer of the same kind over parameters
  // of the same names and shapes. Every mismatch (kind, missing/unexpected tensor, shape,
  // step entry) is an error listing it; nothing changes unless the whole restore succeeds.
  void load_state(const OptimizerState& state);

 protected:
  // `buffer_names`: the per-parameter state buffers, each shaped like the parameter and
  // starting at zero (e.g. {"exp_avg", "exp_avg_sq"}).
  Optimizer(std::string kind, std::vector<ParamGroup> groups, std::vector<std::string> buffer_names);

  struct Slot {
    std::string name;
    Var param;
    std::vector<Tensor> buffers;  // aligned with buffer_names
    int64_t step = 0;             // updates received, including the current one in update()
    std::size_t group = 0;
  };

  // Updates one parameter in place; slot.step already counts this update. `lr` includes the
  // group's scale. The gradient is slot.param.grad(), shaped like the parameter. Called by
  // every thread of step()'s parallel region, for every parameter in the same order: the
  // element loop is an orphaned `omp for ... nowait`, so each thread updates its share of
  // each parameter and nobody waits between parameters (a `parallel for` there would run the
  // whole loop on every thread). noexcept: a throw inside the region would end the process.
  virtual void update(Slot& slot, double lr, double weight_decay) noexcept = 0;

 private:
  std::string kind_;
  std::vector<ParamGroup> groups_;
  std::vector<std::string> buffer_names_;
  std::vector<Slot> slots_;
};

// Elements (of all parameters updated in a step together) below which a step stays
// single-threaded (fork/join costs more).
constexpr int64_t kParallelUpdateThreshold = 1 << 14;

// File helpers: the state plus `metadata` (e.g. the trainer's step) in one safetensors file.
void save_optimizer_state(const std::string& path, const Optimizer& optimizer,
                          const TensorMetadata& metadata = {});
// Restores the optimizer from `path` and returns the file's metadata.
TensorMetadata load_optimizer_state(const std::string& path, Optimizer& optimizer);

}  // namespace tapelm
