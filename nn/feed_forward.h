// Position-wise feed-forward network: fc2(act(fc1(x))) with ReLU (the original Transformer)
// or GELU (GPT-2), or SwiGLU: fc2(silu(fc1(x)) ⊙ fc3(x)) (Shazeer 2020, LLaMA).
#pragma once

#include <memory>

#include <tapelm/autograd/rng.h>
#include <tapelm/data/enum_names.h>
#include <tapelm/nn/init.h>
#include <tapelm/nn/linear.h>
#include <tapelm/nn/module.h>

namespace tapelm {

enum class FfnKind { Relu, Gelu, SwiGLU };

// Which GELU FfnKind::Gelu computes: the tanh approximation (GPT-2) or the exact erf form.
enum class GeluApproximation { Tanh, None };

// Their names in configs: gelu | relu | swiglu and tanh | none.
template <>
const EnumNames<FfnKind>& enum_names<FfnKind>();
template <>
const EnumNames<GeluApproximation>& enum_names<GeluApproximation>();

struct FeedForwardConfig {
  int64_t n_embd = 768;
  // Hidden width; 0 picks the default: 4·n_embd for ReLU/GELU, and for SwiGLU (which has
  // three matrices) 2/3 of that, rounded up to a multiple of 8, to keep the count similar.
  int64_t ffn_hidden = 0;
  FfnKind ffn = FfnKind::Gelu;
  GeluApproximation gelu_approximation = GeluApproximation::Tanh;
  bool bias = true;
};

// The hidden width cfg resolves to.
int64_t ffn_hidden_width(const FeedForwardConfig& cfg);

class FeedForward : public Module {
 public:
  // Parameters: `fc1` Linear(C, ffn_hidden), `fc2` Linear(ffn_hidden, C) with weights ~ N(0, out_init_std²),
  // and for SwiGLU `fc3` Linear(C, ffn_hidden) (fc1 is the gate, fc3 the value).
  FeedForward(const FeedForwardConfig& cfg, Rng& rng, float out_init_std = kInitStd);

  // x: [..., C] → [..., C].
  Var forward(const Var& x) const;

  int64_t hidden_width() const { return hidden_; }

 private:
  FfnKind kind_;
  GeluApproximation gelu_approximation_;
  int64_t hidden_;
  std::shared_ptr<Linear> fc1_;
  std::shared_ptr<Linear> fc2_;
  std::shared_ptr<Linear> fc3_;  // SwiGLU only
};

}  // namespace tapelm
