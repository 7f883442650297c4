// bf16 products in training: a tiny GPT trained 300 steps with bf16 operands ends within 1%
// of the fp32 run's validation loss, on a synthetic Markov-chain text it can learn; and with
// the weights' bf16 copies (autograd/bf16_weights.h) its every loss is bit-identical to
// rounding the weights in every product, with each weight rounded once per step.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <tapelm/autograd/bf16_matmul.h>
#include <tapelm/autograd/bf16_weights.h>
#include <tapelm/autograd/gemm_backend.h>
#include <tapelm/autograd/rng.h>
#include <tapelm/autograd/tape.h>
#include <tapelm/nn/gpt.h>
#include <tapelm/optim/adam.h>
#include <tapelm/optim/param_groups.h>

namespace tapelm {
namespace {

constexpr int64_t kVocab = 24, kCtx = 32, kBatch = 8;

// A first-order Markov chain whose every symbol has four likely successors: learnable down
// to about ln 4 nats, far below the ln 24 of a uniform guess.
std::vector<int32_t> markov_text(int64_t length, uint64_t seed) {
  Rng table_rng(5);
  std::vector<std::vector<int32_t>> successors(kVocab);
  for (auto& next : successors) {
    for (int i = 0; i < 4; ++i) next.push_back(static_cast<int32_t>(table_rng.below(kVocab)));
  }
  Rng rng(seed);
  std::vector<int32_t> text{0};
  while (static_cast<int64_t>(text.size()) < length) {
    const auto& next = successors[static_cast<std::size_t>(text.back())];
    text.push_back(rng.uniform() < 0.1f ? static_cast<int32_t>(rng.below(kVocab)) : next[rng.below(4)]);
  }
  return text;
}

// Windows [start, start + kCtx) as inputs and the next tokens as targets.
void windows(const std::vector<int32_t>& text, const std::vector<int64_t>& starts, std::vector<int32_t>& ids,
             std::vector<int32_t>& targets) {
  ids.clear();
  targets.clear();
  for (const int64_t s : starts) {
    ids.insert(ids.end(), text.begin() + s, text.begin() + s + kCtx);
    targets.insert(targets.end(), text.begin() + s + 1, text.begin() + s + kCtx + 1);
  }
}

// Trains `steps` steps in `precision` and returns the validation loss at the end; `losses`
// (if given) receives every step's training loss.
double train_and_validate(GemmPrecision precision, int steps = 300, std::vector<float>* losses = nullptr) {
  EXPECT_EQ(set_gemm_precision(precision), "");
  GPTConfig cfg;
  cfg.vocab_size = kVocab;
  cfg.ctx_len = kCtx;
  cfg.n_layer = 2;
  cfg.n_head = 4;
  cfg.n_embd = 32;
  cfg.dropout = 0.0f;
  cfg.seed = 21;
  const GPT model(cfg);
  AdamW opt(weight_decay_groups(model.named_parameters(), 0.01), AdamConfig{0.9, 0.95, 1e-8});
  const std::vector<int32_t> train = markov_text(20000, 1), val = markov_text(4000, 2);
  std::vector<int32_t> ids, targets;
  Rng order(3);
  for (int step = 0; step < steps; ++step) {
    std::vector<int64_t> starts;
    for (int64_t b = 0; b < kBatch; ++b) starts.push_back(static_cast<int64_t>(order.below(train.size() - kCtx - 1)));
    windows(train, starts, ids, targets);
    opt.zero_grad();
    Var loss = model.loss(ids, targets, kBatch, kCtx);
    if (losses) losses->push_back(loss.item());
    backward(loss);
    opt.step(3e-3);
  }
  std::vector<int64_t> starts;
  for (int64_t s = 0; s + kCtx + 1 <= static_cast<int64_t>(val.size()); s += kCtx) starts.push_back(s);
  windows(val, starts, ids, targets);
  NoGradGuard no_grad;
  const double val_loss = model.loss(ids, targets, static_cast<int64_t>(starts.size()), kCtx).item();
  set_gemm_precision(GemmPrecision::Fp32);
  return val_loss;
}

TEST(Bf16Training, TinyGptEndsWithinOnePercentOfTheFp32ValidationLoss) {
  std::string why;
  if (!kernels::detail::bf16_matmul_available(&why)) GTEST_SKIP() << why;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double fp32 = train_and_validate(GemmPrecision::Fp32);
  const double bf16 = train_and_validate(GemmPrecision::Bf16);
  omp_set_num_threads(threads);
  std::printf("[bf16] validation loss after 300 steps: fp32 %.5f, bf16 %.5f (uniform: %.3f)\n", fp32, bf16,
              std::log(double(kVocab)));
  EXPECT_LT(fp32, 0.7 * std::log(double(kVocab))) << "the model learned the chain";
  EXPECT_NE(fp32, bf16) << "the bf16 run took its own (rounded) path";
  EXPECT_LT(std::abs(bf16 - fp32), 0.01 * fp32);
}

TEST(Bf16Training, WeightCopiesGiveTheLossesOfRoundingTheWeightsInEveryProduct) {
  std::string why;
  if (!kernels::detail::bf16_matmul_available(&why)) GTEST_SKIP() << why;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(2);  // products split between threads, each reading its part of a copy
  constexpr int kSteps = 6;
  set_bf16_weight_copies(false);
  std::vector<float> per_product;
  const double val_per_product = train_and_validate(GemmPrecision::Bf16, kSteps, &per_product);
  set_bf16_weight_copies(true);
  std::vector<float> with_copies;
  const uint64_t before = bf16_weight_roundings();
  const double val_with_copies = train_and_validate(GemmPrecision::Bf16, kSteps, &with_copies);
  const uint64_t roundings = bf16_weight_roundings() - before;
  omp_set_num_threads(threads);
  ASSERT_EQ(with_copies.size(), per_product.size());
  for (std::size_t i = 0; i < with_copies.size(); ++i) {
    EXPECT_EQ(std::memcmp(&with_copies[i], &per_product[i], sizeof(float)), 0)
        << "step " << i << ": " << with_copies[i] << " against " << per_product[i];
  }
  EXPECT_EQ(val_with_copies, val_per_product);
  // Four linear layers per block (qkv, proj, fc1, fc2) in 2 blocks and the LM head, each
  // rounded once per step for its forward and backward products, and once more for the
  // validation pass after the last step.
  EXPECT_EQ(roundings, uint64_t(kSteps + 1) * (4 * 2 + 1));
}

}  // namespace
}  // namespace tapelm
