// Gradient accumulation, the end of a training step and the messages about non-finite steps.
#include <tapelm/train/loop/step_outcome.h>

#include <cmath>

#include <tapelm/autograd/elementwise.h>
#include <tapelm/autograd/tape.h>
#include <tapelm/optim/clip.h>
#include <tapelm/train/loop/progress.h>

namespace tapelm {

StepResult finish_step(Optimizer& optimizer, const NamedParameters& params, double loss, double grad_clip,
                       double lr) {
  StepResult result;
  result.loss = loss;
  result.grad_norm = grad_clip > 0 ? clip_grad_norm(params, grad_clip) : grad_norm(params);
  result.finite = std::isfinite(result.loss) && std::isfinite(result.grad_norm);
  if (result.finite) {
    optimizer.step(lr);
  } else {
    optimizer.zero_grad();
  }
  return result;
}

std::string skipped_step_message(int64_t step, double loss, double grad_norm, int64_t bad_in_a_row,
                                 int64_t max_bad_steps) {
  return "step " + std::to_string(step) + ": non-finite " +
         (std::isfinite(loss) ? "gradient norm (" + format_double("%g", grad_norm) + ")"
                              : "loss (" + format_double("%g", loss) + ")") +
         ", step skipped (" + std::to_string(bad_in_a_row) + " in a row; the run stops at " +
         std::to_string(max_bad_steps) + ")";
}

std::string divergence_message(int64_t step, int64_t bad_in_a_row, int64_t max_bad_steps,
                               const std::filesystem::path& last_checkpoint) {
  return "training diverged: steps " + std::to_string(step - bad_in_a_row + 1) + " to " + std::to_string(step) +
         " all had a non-finite loss or gradient norm (train.max_bad_steps = " + std::to_string(max_bad_steps) +
         "); no checkpoint was written for them. " +
         (last_checkpoint.empty() ? std::string("No checkpoint had been written yet.")
                                  : "The last good checkpoint is " + last_checkpoint.string() + ".") +
         " Lower optimizer.lr or train.grad_clip, then resume with --resume";
}

}  // namespace tapelm
