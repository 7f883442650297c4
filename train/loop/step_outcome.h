// How a training step ends and is reported: clipping and the optimizer update (skipped when the loss or the gradient norm is not finite), the messages
// about skipped steps and divergence, the throughput between log lines, and when a periodic
// action is due.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <tapelm/autograd/variable.h>
#include <tapelm/nn/module.h>
#include <tapelm/optim/optimizer.h>

namespace tapelm {

// Whether a periodic action (a log line, an evaluation, a checkpoint) falls on `step`;
// an interval of 0 means never.
inline bool is_due(int64_t step, int64_t interval) { return interval > 0 && step % interval == 0; }

// Training throughput since the last log line: the time spent in steps (evaluations and
// checkpoints excluded) and the work those steps did (tokens or examples).
class Throughput {
 public:
  template <typename Step>
  auto time(Step&& step) {
    const auto start = std::chrono::steady_clock::now();
    auto result = step();
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }
  void add(int64_t units) { units_ += units; }
  // Units per second since the last reset; 0 before any timed step.
  double per_second() const { return seconds_ > 0 ? double(units_) / seconds_ : 0.0; }
  void reset() {
    units_ = 0;
    seconds_ = 0;
  }

 private:
  int64_t units_ = 0;
  double seconds_ = 0;
};

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
