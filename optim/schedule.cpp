// Learning-rate schedules.
#include <tapelm/optim/schedule.h>

#include <cmath>
#include <stdexcept>

namespace tapelm {

void validate(const ScheduleConfig& c) {
  if (!std::isfinite(c.lr) || c.lr < 0) {
    throw std::invalid_argument("schedule: lr must be finite and >= 0, got " + std::to_string(c.lr));
  }
  if (!(c.min_lr >= 0) || c.min_lr > c.lr) {
    throw std::invalid_argument("schedule: min_lr must lie in [0, lr = " + std::to_string(c.lr) + "], got " +
                                std::to_string(c.min_lr));
  }
  if (c.warmup_steps < 0) {
    throw std::invalid_argument("schedule: warmup_steps must be >= 0, got " + std::to_string(c.warmup_steps));
  }
  if (c.kind != ScheduleKind::Constant && c.total_steps <= c.warmup_steps) {
    throw std::invalid_argument("schedule: " + std::string(enum_name(c.kind)) + " decay needs total_steps (" +
                                std::to_string(c.total_steps) + ") > warmup_steps (" +
                                std::to_string(c.warmup_steps) + ")");
  }
}

double learning_rate(const ScheduleConfig& c, int64_t step) {
  validate(c);
  if (step < 0) throw std::invalid_argument("schedule: step must be >= 0, got " + std::to_string(step));
  if (step < c.warmup_steps) return c.lr * double(step + 1) / double(c.warmup_steps + 1);
  if (c.kind == ScheduleKind::Constant) return c.lr;
  if (step >= c.total_steps) return c.min_lr;
  const double progress = double(step - c.warmup_steps) / double(c.total_steps - c.warmup_steps);
  if (c.kind == ScheduleKind::Cosine) {
    return c.min_lr + 0.5 * (1.0 + std::cos(M_PI * progress)) * (c.lr - c.min_lr);
  }
  return c.lr + progress * (c.min_lr - c.lr);
}

template <>
const EnumNames<ScheduleKind>& enum_names<ScheduleKind>() {
  static const EnumNames<ScheduleKind> names("schedule", {{ScheduleKind::Constant, "constant"},
                                                          {ScheduleKind::Cosine, "cosine"},
                                                          {ScheduleKind::Linear, "linear"}});
  return names;
}

}  // namespace tapelm
