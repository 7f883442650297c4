// Progress bar and log lines.
#include <tapelm/train/loop/progress.h>

#include <cmath>
#include <cstdio>
#include <utility>

namespace tapelm {
namespace {

constexpr int kBarWidth = 20;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

}  // namespace

std::string format_double(const char* format, double value) {
  if (std::isnan(value)) return "nan";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buffer[32];
  if (s < 60) {
    std::snprintf(buffer, sizeof buffer, "%lds", s);
  } else if (s < 3600) {
    std::snprintf(buffer, sizeof buffer, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  }
  return buffer;
}

std::string format_rate(double per_second) {
  char buffer[32];
  if (per_second >= 1e6) {
    std::snprintf(buffer, sizeof buffer, "%.2fM", per_second / 1e6);
  } else if (per_second >= 1e4) {
    std::snprintf(buffer, sizeof buffer, "%.1fk", per_second / 1e3);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.0f", per_second);
  }
  return buffer;
}

ProgressDisplay::ProgressDisplay(std::ostream& log, std::ostream* bar, int64_t first_step, int64_t max_steps,
                                 std::string rate_unit)
    : log_(log),
      bar_(bar),
      first_step_(first_step),
      max_steps_(max_steps),
      rate_unit_(std::move(rate_unit)),
      start_(std::chrono::steady_clock::now()) {}

ProgressDisplay::~ProgressDisplay() { finish(); }

std::string ProgressDisplay::status(const TrainRecord& r) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t done = r.step - first_step_;
  const double eta = done > 0 ? elapsed / double(done) * double(max_steps_ - r.step) : NAN;
  std::string text = "step " + std::to_string(r.step) + "/" + std::to_string(max_steps_) + " | loss " +
                     format_double("%.4f", r.loss) + " | lr " + format_double("%.3e", r.lr) + " | grad_norm " +
                     format_double("%.3f", r.grad_norm) + " | " + format_rate(r.per_second) + " " + rate_unit_ + " | ETA " +
                     format_duration(eta);
  if (r.skipped_steps > 0) text += " | skipped " + std::to_string(r.skipped_steps);
  return text;
}

void ProgressDisplay::step(const TrainRecord& record, bool log_line) {
  if (bar_ == nullptr) {
    if (log_line) log_ << status(record) << std::endl;
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (bar_shown_ && now - last_draw_ < kRedrawInterval && record.step != max_steps_) return;
  last_draw_ = now;
  const double fraction = max_steps_ > 0 ? double(record.step) / double(max_steps_) : 1.0;
  const int filled = static_cast<int>(fraction * kBarWidth);
  *bar_ << "\r[" << std::string(filled, '#') << std::string(kBarWidth - filled, '.') << "] " << status(record)
        << "\033[K" << std::flush;
  bar_shown_ = true;
}

void ProgressDisplay::clear_bar() {
  if (bar_shown_) *bar_ << "\r\033[K" << std::flush;
  bar_shown_ = false;
}

void ProgressDisplay::print(const std::string& text) {
  clear_bar();
  log_ << text << std::endl;
}

void ProgressDisplay::finish() {
  if (bar_shown_) *bar_ << "\n" << std::flush;
  bar_shown_ = false;
}

}  // namespace tapelm
