// Feed-forward network variants.
#include <tapelm/nn/feed_forward.h>

#include <stdexcept>

#include <tapelm/autograd/activation.h>
#include <tapelm/autograd/elementwise.h>

namespace tapelm {

template <>
const EnumNames<FfnKind>& enum_names<FfnKind>() {
  static const EnumNames<FfnKind> names(
      "ffn", {{FfnKind::Gelu, "gelu"}, {FfnKind::Relu, "relu"}, {FfnKind::SwiGLU, "swiglu"}});
  return names;
}

template <>
const EnumNames<GeluApproximation>& enum_names<GeluApproximation>() {
  static const EnumNames<GeluApproximation> names(
      "gelu_approximation", {{GeluApproximation::Tanh, "tanh"}, {GeluApproximation::None, "none"}});
  return names;
}

int64_t ffn_hidden_width(const FeedForwardConfig& cfg) {
  if (cfg.ffn_hidden < 0) {
    throw std::invalid_argument("FeedForward: ffn_hidden must be positive (or 0 for the default), got " +
                                std::to_string(cfg.ffn_hidden));
  }
  if (cfg.ffn_hidden > 0) return cfg.ffn_hidden;
  if (cfg.ffn != FfnKind::SwiGLU) return 4 * cfg.n_embd;
  const int64_t two_thirds = (8 * cfg.n_embd + 2) / 3;  // ceil(2/3 · 4·n_embd)
  return (two_thirds + 7) / 8 * 8;
}

FeedForward::FeedForward(const FeedForwardConfig& cfg, Rng& rng, float out_init_std)
    : kind_(cfg.ffn), gelu_approximation_(cfg.gelu_approximation), hidden_(ffn_hidden_width(cfg)) {
  fc1_ = register_module("fc1", std::make_shared<Linear>(cfg.n_embd, hidden_, cfg.bias, rng));
  fc2_ = register_module("fc2", std::make_shared<Linear>(hidden_, cfg.n_embd, cfg.bias, rng, out_init_std));
  if (kind_ == FfnKind::SwiGLU) {
    fc3_ = register_module("fc3", std::make_shared<Linear>(cfg.n_embd, hidden_, cfg.bias, rng));
  }
}

Var FeedForward::forward(const Var& x) const {
  const Var h = fc1_->forward(x);
  switch (kind_) {
    case FfnKind::Relu:
      return fc2_->forward(relu(h));
    case FfnKind::Gelu:
      return fc2_->forward(gelu_approximation_ == GeluApproximation::Tanh ? gelu(h) : gelu_exact(h));
    case FfnKind::SwiGLU:
      return fc2_->forward(mul(silu(h), fc3_->forward(x)));
  }
  throw std::logic_error("FeedForward: unknown FfnKind");
}

}  // namespace tapelm
