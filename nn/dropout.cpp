// Dropout module on the dropout op; site keys of a model's dropout source.
#include <tapelm/nn/dropout.h>

#include <stdexcept>
#include <string>
#include <utility>

#include <tapelm/autograd/dropout.h>
#include <tapelm/autograd/rng.h>

namespace tapelm {

// A fixed odd salt keeps the dropout keys far from the init stream of the same seed.
DropoutSource::DropoutSource(uint64_t model_seed) : seed_(model_seed ^ 0xD1B54A32D192ED03ull) { set_batch(0, 0); }

void DropoutSource::set_batch(int64_t step, DropoutRows rows) {
  step_key_ = Rng::mix(seed_, static_cast<uint64_t>(step));
  rows_ = std::move(rows);
  site_ = 0;
}

uint64_t DropoutSource::next_site_key() { return Rng::mix(step_key_, site_++); }

Dropout::Dropout(float p, std::shared_ptr<DropoutSource> source) : p_(p), source_(std::move(source)) {
  if (!(p >= 0.0f && p < 1.0f)) {
    throw std::invalid_argument("Dropout: p must be in [0, 1), got " + std::to_string(p));
  }
  if (!source_) throw std::invalid_argument("Dropout: no DropoutSource given");
}

Var Dropout::forward(const Var& x) const {
  if (p_ == 0.0f || !is_training()) return x;
  return dropout(x, p_, source_->next_site_key(), source_->rows(), true);
}

}  // namespace tapelm
