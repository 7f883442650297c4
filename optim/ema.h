// The exponential moving average (EMA, Polyak averaging) of a model's trainable weights, the
// model that evaluation and checkpoints' weights.safetensors use when train.ema_decay > 0
// (train/README.md). After optimizer step `step` (0-based):
//   ema = d_t·ema + (1 − d_t)·w,   d_t = min(decay, (1 + step) / (10 + step))
// starting from the weights before the first step. The warmup of d_t (TensorFlow's
// ExponentialMovingAverage with num_updates does the same) keeps the average from being the
// initial weights for the first ~1/(1 − decay) steps without a bias correction: d_t is 0.1 at
// step 0, 0.9 at step 80 and reaches 0.999 only at step 8,990, so the average always covers
// roughly the last tenth of the run and a short run still ends on averaged trained weights.
// Frozen parameters (in no optimizer group) do not change, so their average is the parameter
// itself. Each value is computed in double and rounded once, element by element: the result
// depends on nothing but the inputs (threads, ranks).
#pragma once

#include <cstdint>
#include <vector>

#include <tapelm/nn/module.h>

namespace tapelm {

class EmaWeights {
 public:
  // The average of `params` (every parameter of the model, in its order), starting at their
  // current values; those of `trainable` are averaged, the others shared. Throws
  // std::invalid_argument for a decay outside [0, 1).
  EmaWeights(const NamedParameters& params, const NamedParameters& trainable, double decay);

  // d_t above.
  static double decay_at(double decay, int64_t step);

  double decay() const { return decay_; }
  // Folds the parameters' current values into the average after optimizer step `step`.
  void update(int64_t step);
  // Every parameter's name with its average: what weights.safetensors holds. Loading a file
  // into it replaces the average (frozen entries are the parameters themselves).
  const NamedParameters& averaged() const { return averaged_; }
  // Exchanges the trainable parameters' values with their averages; a second call restores them.
  void swap_with_parameters();

 private:
  double decay_;
  NamedParameters params_;
  NamedParameters averaged_;
  std::vector<size_t> trainable_;  // indices into params_ / averaged_
};

// Evaluates with the average in the parameters for its scope (nothing with a null `ema`).
class EmaInParameters {
 public:
  explicit EmaInParameters(EmaWeights* ema) : ema_(ema) {
    if (ema_) ema_->swap_with_parameters();
  }
  ~EmaInParameters() {
    if (ema_) ema_->swap_with_parameters();
  }
  EmaInParameters(const EmaInParameters&) = delete;
  EmaInParameters& operator=(const EmaInParameters&) = delete;

 private:
  EmaWeights* ema_;
};

}  // namespace tapelm
