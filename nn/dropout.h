// Dropout module, active in training mode only, and DropoutSource, which all Dropout modules
// of one model share. Every mask element is a pure function of (the model's dropout seed,
// training step, dropout site, the example's index in the step's global batch, the element's
// coordinates within the example) — so a step draws the same masks whether its batch is
// split over ranks or micro-batches, and whatever length its examples are padded to.
#pragma once

#include <cstdint>
#include <memory>

#include <tapelm/autograd/dropout_rows.h>
#include <tapelm/nn/module.h>

namespace tapelm {

class DropoutSource {
 public:
  // `model_seed`: the model's config seed (salted here, so masks are independent of the
  // initialisation drawn from the same seed).
  explicit DropoutSource(uint64_t model_seed);

  // Row b of the batch dimension of the following forward passes is example rows[b] of step
  // `step`'s global batch (first_example + b for a plain offset). Restarts the site numbering.
  void set_batch(int64_t step, DropoutRows rows);

  // The key of the next dropout site (sites count in forward order from set_batch on, the
  // same on every rank and for any batch size).
  uint64_t next_site_key();
  const DropoutRows& rows() const { return rows_; }

 private:
  uint64_t seed_;
  uint64_t step_key_;
  DropoutRows rows_;
  uint64_t site_ = 0;
};

class Dropout : public Module {
 public:
  Dropout(float p, std::shared_ptr<DropoutSource> source);
  // x: [B, ...], its first dimension the batch (see DropoutSource::set_batch).
  Var forward(const Var& x) const;
  float p() const { return p_; }

 private:
  float p_;
  std::shared_ptr<DropoutSource> source_;
};

}  // namespace tapelm
