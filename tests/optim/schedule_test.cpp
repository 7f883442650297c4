// Learning-rate schedules at their key steps.
#include <tapelm/optim/schedule.h>

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace tapelm {
namespace {

ScheduleConfig config(ScheduleKind kind) {
  ScheduleConfig c;
  c.kind = kind;
  c.lr = 1.0;
  c.min_lr = 0.1;
  c.warmup_steps = 10;
  c.total_steps = 110;
  return c;
}

TEST(Schedule, WarmupRisesLinearlyToThePeakAtWarmupEnd) {
  for (ScheduleKind kind : {ScheduleKind::Constant, ScheduleKind::Cosine, ScheduleKind::Linear}) {
    const ScheduleConfig c = config(kind);
    EXPECT_DOUBLE_EQ(learning_rate(c, 0), 1.0 / 11) << enum_name(kind);
    EXPECT_DOUBLE_EQ(learning_rate(c, 4), 5.0 / 11) << enum_name(kind);
    EXPECT_DOUBLE_EQ(learning_rate(c, 9), 10.0 / 11) << enum_name(kind);
    EXPECT_DOUBLE_EQ(learning_rate(c, 10), 1.0) << enum_name(kind);
  }
}

TEST(Schedule, CosineDecaysToMinLrAtTotalStepsAndStaysThere) {
  const ScheduleConfig c = config(ScheduleKind::Cosine);
  EXPECT_NEAR(learning_rate(c, 35), 0.1 + 0.45 * (1 + std::cos(M_PI / 4)), 1e-12);  // quarter way
  EXPECT_NEAR(learning_rate(c, 60), 0.55, 1e-12);                                   // half way
  EXPECT_NEAR(learning_rate(c, 109), 0.1 + 0.45 * (1 + std::cos(M_PI * 0.99)), 1e-12);
  EXPECT_DOUBLE_EQ(learning_rate(c, 110), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(c, 100000), 0.1);
  for (int64_t s = 10; s < 120; ++s) EXPECT_LE(learning_rate(c, s + 1), learning_rate(c, s)) << s;
}

TEST(Schedule, LinearDecaysToMinLrAtTotalStepsAndStaysThere) {
  const ScheduleConfig c = config(ScheduleKind::Linear);
  EXPECT_NEAR(learning_rate(c, 35), 0.775, 1e-12);
  EXPECT_NEAR(learning_rate(c, 60), 0.55, 1e-12);
  EXPECT_NEAR(learning_rate(c, 109), 0.109, 1e-12);
  EXPECT_DOUBLE_EQ(learning_rate(c, 110), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(c, 5000), 0.1);
}

TEST(Schedule, ConstantHoldsThePeakAfterWarmup) {
  const ScheduleConfig c = config(ScheduleKind::Constant);
  EXPECT_DOUBLE_EQ(learning_rate(c, 60), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(c, 5000), 1.0);
  ScheduleConfig no_warmup = c;
  no_warmup.warmup_steps = 0;
  EXPECT_DOUBLE_EQ(learning_rate(no_warmup, 0), 1.0);
}

TEST(Schedule, DefaultsAreValid) { EXPECT_NO_THROW(validate(ScheduleConfig{})); }

TEST(Schedule, RejectsInconsistentSettingsNamingTheField) {
  auto expect_invalid = [](ScheduleConfig c, const std::string& needle) {
    try {
      validate(c);
      ADD_FAILURE() << "accepted; expected an error about " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  ScheduleConfig c = config(ScheduleKind::Cosine);
  c.min_lr = 2.0;
  expect_invalid(c, "min_lr");
  c = config(ScheduleKind::Cosine);
  c.lr = std::nan("");
  expect_invalid(c, "lr must be finite");
  c = config(ScheduleKind::Linear);
  c.total_steps = 10;
  expect_invalid(c, "total_steps (10) > warmup_steps (10)");
  c = config(ScheduleKind::Cosine);
  c.warmup_steps = -1;
  expect_invalid(c, "warmup_steps");
  EXPECT_THROW(learning_rate(config(ScheduleKind::Cosine), -1), std::invalid_argument);
}

TEST(Schedule, KindsParseFromTheirNames) {
  for (ScheduleKind kind : {ScheduleKind::Constant, ScheduleKind::Cosine, ScheduleKind::Linear}) {
    EXPECT_EQ(parse_enum<ScheduleKind>(enum_name(kind)), kind);
  }
  EXPECT_THROW(parse_enum<ScheduleKind>("step"), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
