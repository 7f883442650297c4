// MultiHeadAttention: names, shapes, masks, cross-attention, KV cache, gradients, errors.
#include <gtest/gtest.h>

#include "module_gradcheck.h"
#include <tapelm/nn/attention.h>

namespace tapelm {
namespace {

using testing::expect_gradients_match;
using testing::expect_parameter_gradients_match;
using testing::max_abs_diff;
using testing::random_tensor;

AttentionConfig small_attention(bool causal = false, bool cross = false) {
  AttentionConfig cfg;
  cfg.n_embd = 8;
  cfg.n_head = 2;
  cfg.causal = causal;
  cfg.cross = cross;
  return cfg;
}

// Copy of x with row (b, t) of a [B, T, C] tensor replaced by fresh noise.
Var perturb_row(const Var& x, int64_t b, int64_t t, uint64_t seed) {
  Tensor y = x.value().clone();
  const int64_t T = x.size(1), C = x.size(2);
  const Tensor noise = random_tensor({C}, seed);
  for (int64_t c = 0; c < C; ++c) y.data()[(b * T + t) * C + c] = noise.data()[c];
  return Var(y);
}

TEST(Attention, SelfAttentionHasFusedQkvAndProjection) {
  Rng rng(1);
  MultiHeadAttention attn(small_attention(), rng);
  const auto params = attn.named_parameters();
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[0].first, "qkv.weight");
  EXPECT_EQ(params[0].second.shape(), Shape({24, 8}));
  EXPECT_EQ(params[1].first, "qkv.bias");
  EXPECT_EQ(params[2].first, "proj.weight");
  EXPECT_EQ(params[2].second.shape(), Shape({8, 8}));
  EXPECT_EQ(attn.forward(Var(random_tensor({3, 5, 8}, 2))).shape(), Shape({3, 5, 8}));
}

TEST(Attention, CrossAttentionHasSeparateQueryAndKeyValueProjections) {
  Rng rng(1);
  MultiHeadAttention attn(small_attention(false, true), rng);
  const auto params = attn.named_parameters();
  ASSERT_EQ(params.size(), 6u);
  EXPECT_EQ(params[0].first, "q.weight");
  EXPECT_EQ(params[0].second.shape(), Shape({8, 8}));
  EXPECT_EQ(params[2].first, "kv.weight");
  EXPECT_EQ(params[2].second.shape(), Shape({16, 8}));
  EXPECT_EQ(params[4].first, "proj.weight");
  Var y = attn.forward_cross(Var(random_tensor({2, 3, 8}, 2)), Var(random_tensor({2, 7, 8}, 3)));
  EXPECT_EQ(y.shape(), Shape({2, 3, 8}));
}

TEST(Attention, CausalMaskHidesFutureTokensBitwise) {
  Rng rng(1);
  MultiHeadAttention attn(small_attention(true), rng);
  const Var x(random_tensor({2, 6, 8}, 4));
  const Var base = attn.forward(x);
  const Var changed = attn.forward(perturb_row(x, 1, 4, 99));
  // Row b = 0 is untouched entirely; row 1 only from position 4 on.
  const int64_t C = 8, T = 6;
  EXPECT_EQ(max_abs_diff(base.data(), changed.data(), (T + 4) * C), 0.0f);
  EXPECT_GT(max_abs_diff(base.data() + (T + 4) * C, changed.data() + (T + 4) * C, 2 * C), 1e-4f);
}

TEST(Attention, WithoutCausalMaskEveryPositionSeesTheWholeSequence) {
  Rng rng(1);
  MultiHeadAttention attn(small_attention(false), rng);
  const Var x(random_tensor({1, 4, 8}, 4));
  const Var base = attn.forward(x);
  const Var changed = attn.forward(perturb_row(x, 0, 3, 99));
  EXPECT_GT(max_abs_diff(base.data(), changed.data(), 8), 1e-5f) << "position 0 must see position 3";
}

TEST(Attention, PaddedKeysDoNotAffectRealTokens) {
  Rng rng(1);
  MultiHeadAttention attn(small_attention(false), rng);
  const Var x(random_tensor({2, 4, 8}, 5));
  const std::vector<uint8_t> padding = {1, 1, 1, 1, 1, 1, 0, 0};  // row 1: last two are padding
  const Var base = attn.forward(x, padding);
  const Var changed = attn.forward(perturb_row(perturb_row(x, 1, 2, 7), 1, 3, 8), padding);
  EXPECT_EQ(max_abs_diff(base.data(), changed.data(), 6 * 8), 0.0f);
  const Var unmasked = attn.forward(x);
  EXPECT_GT(max_abs_diff(base.data() + 4 * 8, unmasked.data() + 4 * 8, 2 * 8), 1e-5f)
      << "the mask must change what real tokens see";
}

TEST(Attention, CrossAttentionDependsOnTheMemoryButNotItsPadding) {
  Rng rng(1);
  MultiHeadAttention attn(small_attention(false, true), rng);
  const Var x(random_tensor({1, 3, 8}, 6));
  const Var memory(random_tensor({1, 5, 8}, 7));
  const std::vector<uint8_t> padding = {1, 1, 1, 0, 0};
  const Var base = attn.forward_cross(x, memory, padding);
  EXPECT_GT(max_abs_diff(base.data(), attn.forward_cross(x, perturb_row(memory, 0, 1, 9), padding).data(), 24), 1e-5f);
  EXPECT_EQ(max_abs_diff(base.data(), attn.forward_cross(x, perturb_row(memory, 0, 4, 9), padding).data(), 24), 0.0f);
}

TEST(Attention, KvCacheStepsMatchTheFullSequence) {
  Rng rng(1);
  auto rope = std::make_shared<const RopeTable>(16, 4);
  MultiHeadAttention attn(small_attention(true), rng, kInitStd, rope);
  const Var x(random_tensor({2, 5, 8}, 8));
  const Var full = attn.forward(x);
  LayerKV cache;
  const std::vector<Var> parts = split(x, {3, 1, 1}, 1);
  std::vector<Var> outs;
  for (const Var& part : parts) outs.push_back(attn.forward(part, {}, &cache));
  EXPECT_EQ(cache.k.shape(), Shape({2, 2, 5, 4}));
  const Var stepped = concat(outs, 1);
  EXPECT_LT(max_abs_diff(full.data(), stepped.data(), full.numel()), 1e-5f);
}

TEST(Attention, SelfAttentionGradientsMatchFiniteDifferences) {
  Rng rng(2);
  auto rope = std::make_shared<const RopeTable>(16, 4);
  MultiHeadAttention attn(small_attention(true), rng, kInitStd, rope);
  for (auto& [_, p] : attn.named_parameters()) p.value() = random_tensor(p.shape(), 3, 0.5f);
  const Var x(random_tensor({2, 3, 8}, 4));
  const std::vector<uint8_t> padding = {1, 1, 1, 1, 1, 0};
  expect_parameter_gradients_match(attn, [&] { return attn.forward(x, padding); });
  expect_gradients_match([&](std::vector<Var>& v) { return attn.forward(v[0], padding); }, {x.value()});
}

TEST(Attention, CrossAttentionGradientsMatchFiniteDifferences) {
  Rng rng(2);
  MultiHeadAttention attn(small_attention(false, true), rng);
  for (auto& [_, p] : attn.named_parameters()) p.value() = random_tensor(p.shape(), 3, 0.5f);
  const Var x(random_tensor({2, 2, 8}, 4));
  const Var memory(random_tensor({2, 3, 8}, 5));
  expect_parameter_gradients_match(attn, [&] { return attn.forward_cross(x, memory); });
  expect_gradients_match([&](std::vector<Var>& v) { return attn.forward_cross(v[0], v[1]); },
                         {x.value(), memory.value()});
}

TEST(Attention, RejectsHeadsThatDoNotDivideTheWidth) {
  Rng rng(1);
  AttentionConfig cfg = small_attention();
  cfg.n_head = 3;
  try {
    MultiHeadAttention attn(cfg, rng);
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("n_head = 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("n_embd = 8"), std::string::npos) << e.what();
  }
}

TEST(Attention, RejectsWrongShapesMasksAndModes) {
  Rng rng(1);
  MultiHeadAttention self(small_attention(), rng);
  MultiHeadAttention cross(small_attention(false, true), rng);
  EXPECT_THROW(self.forward(Var(Tensor::zeros({2, 3, 6}))), std::invalid_argument);
  EXPECT_THROW(self.forward(Var(Tensor::zeros({2, 3, 8})), std::vector<uint8_t>(5, 1)), std::invalid_argument);
  EXPECT_THROW(self.forward_cross(Var(Tensor::zeros({1, 2, 8})), Var(Tensor::zeros({1, 2, 8}))), std::logic_error);
  EXPECT_THROW(cross.forward(Var(Tensor::zeros({1, 2, 8}))), std::logic_error);
  EXPECT_THROW(cross.forward_cross(Var(Tensor::zeros({1, 2, 8})), Var(Tensor::zeros({2, 2, 8}))),
               std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
