// Optimizer state export, file round trip, and exact continuation after a restore.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include <tapelm/nn/safetensors.h>
#include <tapelm/optim/adam.h>
#include <tapelm/optim/sgd.h>
#include "scratch_dir.h"
#include "test_params.h"

namespace tapelm {
namespace {

using testing::expect_error_containing;
using testing::ReferenceParams;
using testing::reference_grad;
using testing::ScratchDir;
using testing::set_grad;

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(const ReferenceParams&)>;

std::unique_ptr<Optimizer> make_adamw(const ReferenceParams& p) {
  return std::make_unique<AdamW>(
      std::vector<ParamGroup>{{"decay", {{"w", p.w}}, 1.0, 0.1}, {"no_decay", {{"b", p.b}}, 0.5, 0.0}});
}

std::unique_ptr<Optimizer> make_sgd(const ReferenceParams& p) {
  return std::make_unique<Sgd>(std::vector<ParamGroup>{{"all", {{"w", p.w}, {"b", p.b}}, 1.0, 0.01}},
                               SgdConfig{0.9});
}

// One step; "b" gets no gradient at step 3, so the two parameters' step counts differ.
void train_step(const ReferenceParams& p, Optimizer& opt, int t) {
  set_grad(p.w, reference_grad(t, 6, 0));
  if (t != 3) set_grad(p.b, reference_grad(t, 3, 6));
  opt.step(1e-2 * (1.0 - 0.05 * t));
  opt.zero_grad();
}

void expect_restore_continues_exactly(const MakeOptimizer& make) {
  ScratchDir dir;
  ReferenceParams straight;
  auto straight_opt = make(straight);
  for (int t = 0; t < 10; ++t) train_step(straight, *straight_opt, t);

  ReferenceParams first;
  auto first_opt = make(first);
  for (int t = 0; t < 5; ++t) train_step(first, *first_opt, t);
  save_parameters(dir.file("model.safetensors"), {{"w", first.w}, {"b", first.b}});
  save_optimizer_state(dir.file("optim.safetensors"), *first_opt, {{"trainer_step", "5"}});

  ReferenceParams resumed;  // fresh values and a fresh optimizer
  auto resumed_opt = make(resumed);
  load_parameters(dir.file("model.safetensors"), {{"w", resumed.w}, {"b", resumed.b}});
  const TensorMetadata extra = load_optimizer_state(dir.file("optim.safetensors"), *resumed_opt);
  EXPECT_EQ(extra, (TensorMetadata{{"trainer_step", "5"}}));
  EXPECT_EQ(resumed_opt->step_count("b"), 4);
  for (int t = 5; t < 10; ++t) train_step(resumed, *resumed_opt, t);

  EXPECT_EQ(resumed.w.value().to_vector(), straight.w.value().to_vector());
  EXPECT_EQ(resumed.b.value().to_vector(), straight.b.value().to_vector());
  const OptimizerState a = resumed_opt->state(), b = straight_opt->state();
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].first, b.tensors[i].first);
    EXPECT_EQ(a.tensors[i].second.to_vector(), b.tensors[i].second.to_vector()) << a.tensors[i].first;
  }
}

TEST(OptimizerState, AdamWRestoredAfterFiveStepsContinuesBitwiseLikeTenStraight) {
  expect_restore_continues_exactly(make_adamw);
}

TEST(OptimizerState, SgdRestoredAfterFiveStepsContinuesBitwiseLikeTenStraight) {
  expect_restore_continues_exactly(make_sgd);
}

TEST(OptimizerState, ExposesNamedMomentsAndPerParameterStepCounts) {
  ReferenceParams p;
  auto opt = make_adamw(p);
  train_step(p, *opt, 0);
  const OptimizerState state = opt->state();
  std::vector<std::string> names;
  for (const auto& [name, tensor] : state.tensors) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"exp_avg.w", "exp_avg_sq.w", "exp_avg.b", "exp_avg_sq.b"}));
  EXPECT_EQ(state.tensors[0].second.shape(), (Shape{2, 3}));
  EXPECT_EQ(state.metadata, (TensorMetadata{{"optimizer", "adamw"}, {"step.w", "1"}, {"step.b", "1"}}));
  // The export shares the live buffers rather than copying them.
  const std::vector<float> before = state.tensors[0].second.to_vector();
  train_step(p, *opt, 1);
  EXPECT_NE(state.tensors[0].second.to_vector(), before);
}

TEST(OptimizerState, RestoreRejectsEveryMismatchWithoutChangingAnything) {
  ReferenceParams p;
  auto opt = make_adamw(p);
  train_step(p, *opt, 0);
  const OptimizerState good = opt->state();
  ReferenceParams q;
  auto target = make_adamw(q);

  OptimizerState wrong_kind = good;
  wrong_kind.metadata["optimizer"] = "sgd";
  expect_error_containing<std::runtime_error>([&] { target->load_state(wrong_kind); },
                                              "saved by optimizer 'sgd', not 'adamw'");

  OptimizerState missing = good;
  missing.tensors.pop_back();
  expect_error_containing<std::runtime_error>([&] { target->load_state(missing); }, "missing: 'exp_avg_sq.b'");

  OptimizerState unexpected = good;
  unexpected.tensors.emplace_back("exp_avg.head", Tensor::zeros({2}));
  unexpected.metadata["step.head"] = "1";
  expect_error_containing<std::runtime_error>([&] { target->load_state(unexpected); },
                                              "unexpected: 'exp_avg.head', 'step.head (metadata)'");

  OptimizerState wrong_shape = good;
  wrong_shape.tensors[0].second = Tensor::zeros({3, 2});
  expect_error_containing<std::runtime_error>([&] { target->load_state(wrong_shape); },
                                              "shape mismatch 'exp_avg.w': state [3, 2], parameter [2, 3]");

  OptimizerState bad_step = good;
  bad_step.metadata["step.w"] = "1x";
  expect_error_containing<std::runtime_error>([&] { target->load_state(bad_step); },
                                              "'step.w' = '1x' is not a non-negative integer");

  EXPECT_EQ(target->step_count("w"), 0);
  for (const auto& [name, tensor] : target->state().tensors) {
    EXPECT_EQ(tensor.to_vector(), std::vector<float>(tensor.numel(), 0.0f)) << name;
  }
}

TEST(OptimizerState, FileHelpersRejectReservedMetadataAndNameTheFile) {
  ScratchDir dir;
  ReferenceParams p;
  auto adamw = make_adamw(p);
  expect_error_containing<std::invalid_argument>(
      [&] { save_optimizer_state(dir.file("o.safetensors"), *adamw, {{"step.w", "3"}}); }, "reserved");
  save_optimizer_state(dir.file("o.safetensors"), *adamw);
  auto sgd = make_sgd(p);
  expect_error_containing<std::runtime_error>([&] { load_optimizer_state(dir.file("o.safetensors"), *sgd); },
                                              "o.safetensors");
}

}  // namespace
}  // namespace tapelm
