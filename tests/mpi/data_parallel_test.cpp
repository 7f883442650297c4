// The semantics the trainer relies on: N ranks that each draw their share (micro-batch B) of
// every global batch, average gradients and take the same AdamW step train the same model
// as one process on the whole batch of N·B rows — same losses step after step up to float
// rounding (the two sum the rows' contributions in different orders). With dropout too: a
// row's masks depend on its index in the global batch, not on the rank that computes it.
//
// Rank 0 also runs the single-process reference itself, after the data-parallel run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tiny_training.h"
#include "world.h"

namespace tapelm {
namespace {

using testing::world;

constexpr int kSteps = 20;
constexpr int64_t kMicroBatch = 2;  // rows per rank per step

void expect_ranks_train_like_one_process(float dropout) {
  const Distributed& dist = world();
  const testing::ScratchDir dir;  // per process (the name holds the pid)
  GPTConfig cfg = testing::tiny_model_config();
  cfg.dropout = dropout;
  const TokenDataset data = testing::tiny_dataset(dir, cfg.vocab_size);

  // The same config (so the same dropout seed) on every rank, as in the trainer; the broadcast
  // must then replace the other ranks' own weights with rank 0's reference init.
  GPT model(cfg);
  if (dist.rank() > 0) {
    for (auto& [name, param] : model.named_parameters()) {
      for (int64_t i = 0; i < param.numel(); ++i) param.data()[i] += 0.5f;
    }
  }
  dist.broadcast_parameters(model.named_parameters());
  const testing::TrainingRun parallel =
      testing::run_tiny_training(model, data, kSteps, kMicroBatch, dist.rank(), dist.world_size(), &dist);
  EXPECT_TRUE(dist.parameters_in_sync(parallel.params)) << "the replicas drifted apart";
  if (!dist.is_root()) return;

  GPT reference_model(cfg);
  const testing::TrainingRun single =
      testing::run_tiny_training(reference_model, data, kSteps, kMicroBatch * dist.world_size(), 0, 1, nullptr);
  double worst = 0.0, worst_norm = 0.0;
  for (int step = 0; step < kSteps; ++step) {
    const double dev = std::fabs(parallel.losses[step] - single.losses[step]) / std::fabs(single.losses[step]);
    EXPECT_LE(dev, 1e-5) << "step " << step << ": " << dist.world_size() << " ranks " << parallel.losses[step]
                         << ", one process " << single.losses[step];
    worst = std::max(worst, dev);
    const double norm_dev = std::fabs(parallel.grad_norms[step] - single.grad_norms[step]) / single.grad_norms[step];
    EXPECT_LE(norm_dev, 1e-5) << "step " << step << ": gradient norm " << parallel.grad_norms[step] << " vs "
                              << single.grad_norms[step];
    worst_norm = std::max(worst_norm, norm_dev);
  }
  EXPECT_LT(single.losses.back(), single.losses.front() - 0.3) << "the model did not learn: the comparison is vacuous";

  double worst_param = 0.0;
  for (std::size_t i = 0; i < single.params.size(); ++i) {
    const Tensor& a = parallel.params[i].second.value();
    const Tensor& b = single.params[i].second.value();
    double dev = 0.0;
    for (int64_t k = 0; k < a.numel(); ++k) dev = std::max(dev, std::fabs(double(a.data()[k]) - b.data()[k]));
    EXPECT_LE(dev, 1e-5) << single.params[i].first;
    worst_param = std::max(worst_param, dev);
  }
  std::printf("dropout %.1f, %d rank(s) vs one process over %d steps: worst relative deviation of losses %.3g, of "
              "gradient norms %.3g; worst absolute parameter deviation %.3g; losses %.6f -> %.6f\n",
              double(dropout), dist.world_size(), kSteps, worst, worst_norm, worst_param, single.losses.front(),
              single.losses.back());
}

TEST(DataParallel, RanksSharingEachBatchTrainLikeOneProcessOnTheWholeBatch) { expect_ranks_train_like_one_process(0.0f); }

TEST(DataParallel, RanksSharingEachBatchDrawTheDropoutMasksOfOneProcess) { expect_ranks_train_like_one_process(0.1f); }

}  // namespace
}  // namespace tapelm
