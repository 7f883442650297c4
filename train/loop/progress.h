// Training progress on the console: a one-line bar redrawn in place on a terminal (step/max,
// loss, lr, tokens/s or examples/s, ETA), or plain log lines every logging interval when output goes to a
// file or pipe. Other messages (evaluations, samples, checkpoints) are printed above the bar.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

#include <tapelm/train/loop/metrics.h>

namespace tapelm {

// `value` through a printf format for one double ("%.4f"), except that NaN is always "nan"
// (printf writes "-nan" for NaNs with the sign bit set).
std::string format_double(const char* format, double value);
// "45s", "3m05s", "2h07m".
std::string format_duration(double seconds);
// "812", "12.3k", "1.45M".
std::string format_rate(double per_second);

class ProgressDisplay {
 public:
  // `bar`: the terminal stream for the bar (e.g. std::cerr when it is a tty), or nullptr for
  // log lines on `log`. The ETA extrapolates the wall time per step since construction,
  // evaluations and checkpoints included. `rate_unit` names what the record's rate counts:
  // "tok/s" in pretraining, "ex/s" (examples) in fine-tuning.
  ProgressDisplay(std::ostream& log, std::ostream* bar, int64_t first_step, int64_t max_steps,
                  std::string rate_unit = "tok/s");
  ~ProgressDisplay();

  // After every step: redraws the bar (at most ~10 times a second), or prints a log line
  // when `log_line` (the logging interval was reached).
  void step(const TrainRecord& record, bool log_line);
  // A message on its own line(s), e.g. an evaluation result.
  void print(const std::string& text);
  // Leaves the bar's last state on screen and moves below it.
  void finish();

 private:
  std::string status(const TrainRecord& record) const;
  void clear_bar();

  std::ostream& log_;
  std::ostream* bar_;
  int64_t first_step_;
  int64_t max_steps_;
  std::string rate_unit_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
  bool bar_shown_ = false;
};

}  // namespace tapelm
