// Adam and AdamW, matching torch.optim.Adam / torch.optim.AdamW (amsgrad off).
//
// Per parameter p with gradient g at update t (bias corrections b1ᵗ, b2ᵗ in double):
//   Adam:  g ← g + wd·p                         (coupled L2, torch.optim.Adam)
//   AdamW: p ← p·(1 − lr·wd)                    (decoupled, torch.optim.AdamW)
//   m ← β1·m + (1−β1)·g
//   v ← β2·v + (1−β2)·g²
//   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)        (ε outside the root)
// The scalars are formed in double and rounded to float where PyTorch rounds them, and
// the element loop evaluates in PyTorch's order with its fused multiply-adds (optim/fmadd.h).
#pragma once

#include <tapelm/optim/optimizer.h>

namespace tapelm {

struct AdamConfig {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<ParamGroup> groups, AdamConfig config = {});
  const AdamConfig& config() const { return config_; }

 protected:
  // For AdamW, which differs only in how weight decay applies.
  Adam(std::string kind, std::vector<ParamGroup> groups, AdamConfig config, bool decoupled);
  void update(Slot& slot, double lr, double weight_decay) noexcept override;

 private:
  AdamConfig config_;
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<ParamGroup> groups, AdamConfig config = {});
};

}  // namespace tapelm
