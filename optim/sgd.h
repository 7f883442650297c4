// SGD with momentum, matching torch.optim.SGD (dampening 0, no Nesterov).
//
// Per parameter p with gradient g:
//   g ← g + wd·p                                (coupled L2, as torch)
//   buf ← g on the parameter's first update, else buf ← μ·buf + g
//   p ← p − lr·buf                              (p ← p − lr·g when μ = 0: no buffer kept)
#pragma once

#include <tapelm/optim/optimizer.h>

namespace tapelm {

struct SgdConfig {
  double momentum = 0.0;
};

class Sgd : public Optimizer {
 public:
  explicit Sgd(std::vector<ParamGroup> groups, SgdConfig config = {});
  const SgdConfig& config() const { return config_; }

 protected:
  void update(Slot& slot, double lr, double weight_decay) noexcept override;

 private:
  SgdConfig config_;
};

}  // namespace tapelm
