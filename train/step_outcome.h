// How a training step ends, shared by the pretraining and fine-tuning loops so both behave
// and report alike: clipping and the optimizer update, skipped when the loss or the gradient
// norm is not finite, and the messages about skipped steps and divergence.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "nn/module.h"
#include "optim/optimizer.h"

namespace tapelm {

struct StepResult {
  double loss = 0;
  double grad_norm = 0;
  bool finite = true;
};

// With the step's gradients accumulated in `params` (and averaged over ranks): clips them to
// grad_clip (0 = measure the norm only) and, when `loss` and the norm are finite, takes the
// optimizer step at `lr`; otherwise drops the gradients, so the step changes nothing.
StepResult finish_step(Optimizer& optimizer, const NamedParameters& params, double loss, double grad_clip, double lr);

// "step 12: non-finite loss (nan), step skipped (2 in a row; the run stops at 5)".
std::string skipped_step_message(int64_t step, double loss, double grad_norm, int64_t bad_in_a_row,
                                 int64_t max_bad_steps);

// Why the run stops after `bad_in_a_row` non-finite steps ending at `step`, where the last
// good checkpoint is (empty: none yet) and what to do.
std::string divergence_message(int64_t step, int64_t bad_in_a_row, int64_t max_bad_steps,
                               const std::filesystem::path& last_checkpoint);

}  // namespace tapelm
