// Linear layer on the fused linear op.
#include <tapelm/nn/linear.h>

#include <stdexcept>

#include <tapelm/autograd/errors.h>
#include <tapelm/autograd/matmul.h>

namespace tapelm {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Rng& rng, float init_std)
    : in_(in_features), out_(out_features) {
  if (in_features <= 0 || out_features <= 0) {
    throw std::invalid_argument("Linear: in_features and out_features must be positive, got " +
                                std::to_string(in_features) + " and " + std::to_string(out_features));
  }
  weight_ = register_parameter("weight", normal_tensor({out_, in_}, rng, init_std));
  if (bias) bias_ = register_parameter("bias", Tensor::zeros({out_}));
}

Var Linear::forward(const Var& x) const {
  if (x.dim() < 1 || x.size(-1) != in_) {
    throw ShapeError("Linear::forward: input of shape " + shape_str(x.shape()) +
                     " does not end in in_features = " + std::to_string(in_));
  }
  return linear(x, weight_, bias_);
}

}  // namespace tapelm
