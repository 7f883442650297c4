// Learning-rate schedules: pure functions of the optimizer step (counted from 0).
//
// Warmup (all kinds): for step < warmup_steps, lr·(step+1)/(warmup_steps+1), rising
// linearly to reach lr at step == warmup_steps.
// Then, with progress = (step − warmup_steps)/(total_steps − warmup_steps) in [0, 1]:
//   constant: lr
//   cosine:   min_lr + ½(1 + cos(π·progress))·(lr − min_lr)
//   linear:   lr + progress·(min_lr − lr)
// and min_lr for every step beyond total_steps (decaying kinds).
#pragma once

#include <cstdint>
#include <string>

#include <tapelm/data/enum_names.h>

namespace tapelm {

enum class ScheduleKind { Constant, Cosine, Linear };

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::Cosine;
  double lr = 3e-4;             // peak learning rate, reached at the end of warmup
  double min_lr = 3e-5;         // floor reached at total_steps (decaying kinds)
  int64_t warmup_steps = 100;
  int64_t total_steps = 1000;   // where the decay ends; usually the run's step budget
};

// Throws std::invalid_argument naming the field: lr finite and >= 0, 0 <= min_lr <= lr,
// warmup_steps >= 0, and total_steps > warmup_steps for the decaying kinds.
void validate(const ScheduleConfig& config);

double learning_rate(const ScheduleConfig& config, int64_t step);

// constant | cosine | linear (scheduler.name in configs).
template <>
const EnumNames<ScheduleKind>& enum_names<ScheduleKind>();

}  // namespace tapelm
