// Embedding layer on the embedding op.
#include <tapelm/nn/embedding.h>

#include <stdexcept>

#include <tapelm/autograd/embedding.h>
#include <tapelm/autograd/errors.h>

namespace tapelm {

Embedding::Embedding(int64_t num_embeddings, int64_t dim, Rng& rng, float init_std)
    : num_(num_embeddings), dim_(dim) {
  if (num_embeddings <= 0 || dim <= 0) {
    throw std::invalid_argument("Embedding: num_embeddings and dim must be positive, got " +
                                std::to_string(num_embeddings) + " and " + std::to_string(dim));
  }
  weight_ = register_parameter("weight", normal_tensor({num_, dim_}, rng, init_std));
}

Var Embedding::forward(const std::vector<int32_t>& ids, const Shape& ids_shape) const {
  if (static_cast<int64_t>(ids.size()) != shape_numel(ids_shape)) {
    throw ShapeError("Embedding::forward: " + std::to_string(ids.size()) +
                     " ids for shape " + shape_str(ids_shape));
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= num_) {
      throw IndexError("Embedding::forward: id " + std::to_string(ids[i]) + " at index " +
                       std::to_string(i) + " is outside [0, " + std::to_string(num_) + ")");
    }
  }
  return embedding(weight_, ids, ids_shape);
}

}  // namespace tapelm
