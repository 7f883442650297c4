// LayerNorm and RMSNorm modules on the fused norm ops.
#include <tapelm/nn/norm.h>

#include <stdexcept>

#include <tapelm/autograd/norm.h>

namespace tapelm {

namespace {

void check_norm_args(const char* who, int64_t dim, float eps) {
  if (dim <= 0 || !(eps > 0.0f)) {
    throw std::invalid_argument(std::string(who) + ": dim must be positive and eps > 0, got dim " +
                                std::to_string(dim) + ", eps " + std::to_string(eps));
  }
}

}  // namespace

LayerNorm::LayerNorm(int64_t dim, float eps) : eps_(eps) {
  check_norm_args("LayerNorm", dim, eps);
  weight_ = register_parameter("weight", Tensor::full({dim}, 1.0f));
  bias_ = register_parameter("bias", Tensor::zeros({dim}));
}

Var LayerNorm::forward(const Var& x) const { return layernorm(x, weight_, bias_, eps_); }

RMSNorm::RMSNorm(int64_t dim, float eps) : eps_(eps) {
  check_norm_args("RMSNorm", dim, eps);
  weight_ = register_parameter("weight", Tensor::full({dim}, 1.0f));
}

Var RMSNorm::forward(const Var& x) const { return rmsnorm(x, weight_, eps_); }

template <>
const EnumNames<NormKind>& enum_names<NormKind>() {
  static const EnumNames<NormKind> names("norm", {{NormKind::LayerNorm, "layernorm"}, {NormKind::RMSNorm, "rmsnorm"}});
  return names;
}

std::shared_ptr<Norm> make_norm(NormKind kind, int64_t dim, float eps) {
  switch (kind) {
    case NormKind::LayerNorm: return std::make_shared<LayerNorm>(dim, eps);
    case NormKind::RMSNorm: return std::make_shared<RMSNorm>(dim, eps);
  }
  throw std::invalid_argument("make_norm: unknown norm kind " + std::to_string(static_cast<int>(kind)) +
                              " (expected " + enum_names<NormKind>().choices() + ")");
}

}  // namespace tapelm
