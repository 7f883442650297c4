// Gradient accumulation: two micro-batches of B/2 rows, each loss scaled by 1/2, backward
// into the same gradients, then one optimizer step — must match one step on the full
// batch of B rows, step after step, up to float rounding (the two differ only in the
// order the rows' contributions are summed).
//
// The mean of the micro-batch means equals the full-batch mean only when each
// micro-batch counts the same number of targets, so each half ignores exactly one.
//
// One slice is left out of the parameter comparison: the key third of `attn.qkv.bias`.
// Its true gradient is zero (adding a constant vector to every key shifts all of a
// query's scores equally, which softmax ignores), so both runs see only rounding noise
// there (~1e-9), and Adam, dividing by √v ≈ |noise|, turns noise into steps up to ~lr in
// size that differ between runs. Its gradients are still compared above, like all others.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <tapelm/autograd/elementwise.h>
#include <tapelm/autograd/rng.h>
#include <tapelm/autograd/tape.h>
#include <tapelm/nn/gpt.h>
#include <tapelm/optim/adam.h>
#include <tapelm/optim/param_groups.h>

namespace tapelm {
namespace {

// max |a − b| / max |b| over elements [begin, end) of two tensors (end < 0: to the end).
double relative_deviation(const Tensor& a, const Tensor& b, int64_t begin = 0, int64_t end = -1) {
  double dev = 0.0, scale = 0.0;
  for (int64_t i = begin; i < (end < 0 ? b.numel() : end); ++i) {
    dev = std::max(dev, std::fabs(static_cast<double>(a.data()[i]) - b.data()[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b.data()[i])));
  }
  return scale > 0.0 ? dev / scale : dev;
}

struct Rows {
  std::vector<int32_t> ids, targets;
};

// Rows [first, first + count) of a [B, T] batch.
Rows slice_rows(const Rows& batch, int64_t T, int64_t first, int64_t count) {
  Rows r;
  r.ids.assign(batch.ids.begin() + first * T, batch.ids.begin() + (first + count) * T);
  r.targets.assign(batch.targets.begin() + first * T, batch.targets.begin() + (first + count) * T);
  return r;
}

TEST(GradientAccumulation, TwoHalfBatchesWithHalvedLossesMatchOneFullBatch) {
  GPTConfig cfg;
  cfg.vocab_size = 29;
  cfg.ctx_len = 8;
  cfg.n_layer = 2;
  cfg.n_head = 2;
  cfg.n_embd = 16;
  cfg.dropout = 0.0f;
  cfg.seed = 3;
  const GPT full_model(cfg);
  const GPT accum_model(cfg);  // same seed: bitwise the same initial weights
  const NamedParameters full_params = full_model.named_parameters();
  const NamedParameters accum_params = accum_model.named_parameters();

  constexpr int64_t B = 4, T = 8, kHalf = B / 2;
  constexpr int kSteps = 5;
  Rng rng(17);
  Rows batch;
  for (int64_t i = 0; i < B * T; ++i) {
    batch.ids.push_back(static_cast<int32_t>(rng.below(cfg.vocab_size)));
    batch.targets.push_back(static_cast<int32_t>(rng.below(cfg.vocab_size)));
  }
  batch.targets[3] = kIgnoreIndex;              // in the first half
  batch.targets[kHalf * T + 5] = kIgnoreIndex;  // in the second half

  const AdamConfig adam{0.9, 0.95, 1e-8};
  AdamW full_opt(weight_decay_groups(full_params, 0.1), adam);
  AdamW accum_opt(weight_decay_groups(accum_params, 0.1), adam);

  double worst_grad = 0.0, worst_loss = 0.0;
  for (int step = 0; step < kSteps; ++step) {
    full_opt.zero_grad();
    Var full_loss = full_model.loss(batch.ids, batch.targets, B, T);
    backward(full_loss);

    accum_opt.zero_grad();
    float accum_loss = 0.0f;
    for (int64_t first : {int64_t{0}, kHalf}) {
      const Rows micro = slice_rows(batch, T, first, kHalf);
      Var l = mul(accum_model.loss(micro.ids, micro.targets, kHalf, T), 0.5f);
      accum_loss += l.item();
      backward(l);
    }

    const double loss_dev = std::fabs(accum_loss - full_loss.item()) / std::fabs(full_loss.item());
    EXPECT_LE(loss_dev, 1e-6) << "step " << step << ": accumulated " << accum_loss << ", full " << full_loss.item();
    worst_loss = std::max(worst_loss, loss_dev);
    for (std::size_t i = 0; i < full_params.size(); ++i) {
      const double d = relative_deviation(accum_params[i].second.grad(), full_params[i].second.grad());
      EXPECT_LE(d, 1e-5) << "step " << step << ": gradient of " << full_params[i].first;
      worst_grad = std::max(worst_grad, d);
    }
    full_opt.step(1e-2);
    accum_opt.step(1e-2);
  }

  double worst_param = 0.0;
  const int64_t C = cfg.n_embd;
  for (std::size_t i = 0; i < full_params.size(); ++i) {
    const std::string& name = full_params[i].first;
    const Tensor& a = accum_params[i].second.value();
    const Tensor& f = full_params[i].second.value();
    const bool qkv_bias = name.size() >= 13 && name.compare(name.size() - 13, 13, "attn.qkv.bias") == 0;
    // Without the key bias slice [C, 2C) (see the top of the file).
    const double d = qkv_bias ? std::max(relative_deviation(a, f, 0, C), relative_deviation(a, f, 2 * C, 3 * C))
                              : relative_deviation(a, f);
    EXPECT_LE(d, 1e-5) << "after " << kSteps << " steps: " << name;
    worst_param = std::max(worst_param, d);
  }
  std::printf("[accumulation] over %d AdamW steps: loss rel %.2e, worst gradient rel %.2e, worst parameter rel %.2e\n",
              kSteps, worst_loss, worst_grad, worst_param);
}

}  // namespace
}  // namespace tapelm
