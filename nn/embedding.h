// Embedding: a learned table [num_embeddings, dim] looked up by integer ids.
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/autograd/rng.h>
#include <tapelm/nn/init.h>
#include <tapelm/nn/module.h>

namespace tapelm {

class Embedding : public Module {
 public:
  // Parameter `weight` [num_embeddings, dim] ~ N(0, init_std²).
  Embedding(int64_t num_embeddings, int64_t dim, Rng& rng, float init_std = kInitStd);

  // ids laid out with shape ids_shape → ids_shape + [dim]. Every id must be in
  // [0, num_embeddings); an offending id is reported with its index.
  Var forward(const std::vector<int32_t>& ids, const Shape& ids_shape) const;

  const Var& weight() const { return weight_; }
  int64_t num_embeddings() const { return num_; }
  int64_t dim() const { return dim_; }

 private:
  int64_t num_;
  int64_t dim_;
  Var weight_;
};

}  // namespace tapelm
