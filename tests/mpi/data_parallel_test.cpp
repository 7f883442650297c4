// The semantics the trainer relies on: N ranks that each draw their share (micro-batch B) of
// every global batch, average gradients and take the same AdamW step train the same model
// as one process on the whole batch of N·B rows — same losses step after step up to float
// rounding (the two sum the rows' contributions in different orders).
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

TEST(DataParallel, RanksSharingEachBatchTrainLikeOneProcessOnTheWholeBatch) {
  const Distributed& dist = world();
  const testing::ScratchDir dir;  // per process (the name holds the pid)
  const GPTConfig cfg = testing::tiny_model_config();
  const TokenDataset data = testing::tiny_dataset(dir, cfg.vocab_size);

  GPTConfig other_init = cfg;
  other_init.seed = cfg.seed + static_cast<uint64_t>(dist.rank());  // rank 0 holds the reference init
  const GPT model(other_init);
  dist.broadcast_parameters(model.named_parameters());
  const testing::TrainingRun parallel =
      testing::run_tiny_training(model, data, kSteps, kMicroBatch, dist.rank(), dist.world_size(), &dist);
  EXPECT_TRUE(dist.parameters_in_sync(parallel.params)) << "the replicas drifted apart";
  if (!dist.is_root()) return;

  const GPT reference_model(cfg);
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
  std::printf("%d rank(s) vs one process over %d steps: worst relative deviation of losses %.3g, of gradient "
              "norms %.3g; worst absolute parameter deviation %.3g; losses %.6f -> %.6f\n",
              dist.world_size(), kSteps, worst, worst_norm, worst_param, single.losses.front(), single.losses.back());
}

}  // namespace
}  // namespace tapelm
