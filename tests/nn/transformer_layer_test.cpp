// FeedForward variants and the encoder/decoder/GPT blocks: names, shapes, causality,
// cross-attention, and gradients of every parameter through one full block.
#include <gtest/gtest.h>

#include "module_gradcheck.h"
#include <tapelm/nn/feed_forward.h>
#include <tapelm/nn/transformer_layer.h>

namespace tapelm {
namespace {

using testing::expect_gradients_match;
using testing::expect_parameter_gradients_match;
using testing::LayerFixture;
using testing::max_abs_diff;
using testing::random_tensor;
using testing::randomize_parameters;
using testing::tiny_config;

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, _] : m.named_parameters()) out.push_back(name);
  return out;
}

TEST(FeedForward, DefaultHiddenWidthIsFourTimesWidthOrTwoThirdsOfThatForSwiGLU) {
  FeedForwardConfig cfg;
  cfg.n_embd = 96;
  EXPECT_EQ(ffn_hidden_width(cfg), 384);
  cfg.ffn = FfnKind::SwiGLU;
  EXPECT_EQ(ffn_hidden_width(cfg), 256);
  cfg.n_embd = 100;  // 2/3 · 400 = 266.7 → 267 → multiple of 8
  EXPECT_EQ(ffn_hidden_width(cfg), 272);
  cfg.ffn_hidden = 50;
  EXPECT_EQ(ffn_hidden_width(cfg), 50);
}

// ReLU has a kink at 0, and a central difference straddling it is meaningless. A step of
// h = 1e-2 on x or on fc1 moves an fc1 pre-activation by at most h·(|x|max or Σ|W|) < 0.05,
// so inputs are redrawn until every pre-activation is at least that far from 0.
Var kink_free_input(const FeedForward& ffn, uint64_t seed) {
  const auto params = ffn.named_parameters();  // fc1.weight, fc1.bias first
  for (uint64_t attempt = 0; attempt < 200; ++attempt) {
    const Var x(random_tensor({2, 3, 6}, seed + attempt));
    NoGradGuard no_grad;
    const Var pre = linear(x, params[0].second, params[1].second);
    float nearest = 1e30f;
    for (float v : pre.value().to_vector()) nearest = std::min(nearest, std::abs(v));
    if (nearest > 0.05f) return x;
  }
  ADD_FAILURE() << "no kink-free input found";
  return Var(random_tensor({2, 3, 6}, seed));
}

TEST(FeedForward, EveryKindHasTheRightParametersAndGradients) {
  for (FfnKind kind : {FfnKind::Relu, FfnKind::Gelu, FfnKind::SwiGLU}) {
    SCOPED_TRACE(static_cast<int>(kind));
    FeedForwardConfig cfg;
    cfg.n_embd = 6;
    cfg.ffn_hidden = 10;
    cfg.ffn = kind;
    Rng rng(2);
    FeedForward ffn(cfg, rng);
    std::vector<std::string> expected = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
    if (kind == FfnKind::SwiGLU) expected.insert(expected.end(), {"fc3.weight", "fc3.bias"});
    EXPECT_EQ(names_of(ffn), expected);
    randomize_parameters(ffn, 3);
    const Var x = kind == FfnKind::Relu ? kink_free_input(ffn, 1) : Var(random_tensor({2, 3, 6}, 1));
    EXPECT_EQ(ffn.forward(x).shape(), x.shape());
    expect_parameter_gradients_match(ffn, [&] { return ffn.forward(x); });
    expect_gradients_match([&](std::vector<Var>& v) { return ffn.forward(v[0]); }, {x.value()});
  }
}

TEST(FeedForward, SwiGLUComputesSiluGateTimesValue) {
  FeedForwardConfig cfg;
  cfg.n_embd = 2;
  cfg.ffn_hidden = 1;
  cfg.ffn = FfnKind::SwiGLU;
  cfg.bias = false;
  Rng rng(1);
  FeedForward ffn(cfg, rng);
  auto params = ffn.named_parameters();  // fc1 [1,2], fc2 [2,1], fc3 [1,2]
  params[0].second.value() = Tensor::from_vector({1, 2}, {1.0f, 0.0f});
  params[1].second.value() = Tensor::from_vector({2, 1}, {1.0f, 2.0f});
  params[2].second.value() = Tensor::from_vector({1, 2}, {0.0f, 3.0f});
  Var y = ffn.forward(Var(Tensor::from_vector({1, 2}, {0.5f, 2.0f})));
  const float gate = 0.5f / (1.0f + std::exp(-0.5f));
  EXPECT_NEAR(y.data()[0], gate * 6.0f, 1e-6);
  EXPECT_NEAR(y.data()[1], 2.0f * gate * 6.0f, 1e-6);
}

TEST(TransformerLayer, GptBlockNamesAndResidualInitScale) {
  TransformerConfig cfg = tiny_config();
  LayerFixture fx(cfg, /*n_layer=*/8);
  DecoderLayer block(cfg, fx.context, /*cross_attention=*/false);
  EXPECT_EQ(names_of(block), (std::vector<std::string>{
                                 "ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
                                 "attn.proj.bias", "ln2.weight", "ln2.bias", "ffn.fc1.weight", "ffn.fc1.bias",
                                 "ffn.fc2.weight", "ffn.fc2.bias"}));
  EXPECT_FLOAT_EQ(fx.context.residual_init_std, 0.02f / 4.0f);
}

TEST(TransformerLayer, DecoderWithCrossAttentionAddsItsNormAndProjections) {
  TransformerConfig cfg = tiny_config();
  cfg.norm = NormKind::RMSNorm;
  cfg.bias = false;
  LayerFixture fx(cfg);
  DecoderLayer block(cfg, fx.context);
  EXPECT_EQ(names_of(block), (std::vector<std::string>{"ln1.weight", "attn.qkv.weight", "attn.proj.weight",
                                                       "ln_cross.weight", "cross_attn.q.weight", "cross_attn.kv.weight",
                                                       "cross_attn.proj.weight", "ln2.weight", "ffn.fc1.weight",
                                                       "ffn.fc2.weight"}));
}

TEST(TransformerLayer, DecoderBlockIsCausalEncoderBlockIsNot) {
  TransformerConfig cfg = tiny_config();
  LayerFixture fx(cfg);
  DecoderLayer decoder(cfg, fx.context, false);
  EncoderLayer encoder(cfg, fx.context);
  Tensor x = random_tensor({1, 4, 8}, 1);
  Tensor x2 = x.clone();
  const Tensor noise = random_tensor({8}, 2);  // not a constant shift, which the norms would remove
  for (int64_t c = 0; c < 8; ++c) x2.data()[3 * 8 + c] += noise.data()[c];
  const Var d1 = decoder.forward(Var(x)), d2 = decoder.forward(Var(x2));
  EXPECT_EQ(max_abs_diff(d1.data(), d2.data(), 3 * 8), 0.0f);
  const Var e1 = encoder.forward(Var(x)), e2 = encoder.forward(Var(x2));
  EXPECT_GT(max_abs_diff(e1.data(), e2.data(), 3 * 8), 1e-6f);
}

TEST(TransformerLayer, DecoderOutputDependsOnTheEncoderOutput) {
  TransformerConfig cfg = tiny_config();
  LayerFixture fx(cfg);
  DecoderLayer block(cfg, fx.context);
  const Var x(random_tensor({2, 3, 8}, 1));
  const Var a = block.forward(x, Var(random_tensor({2, 4, 8}, 2)));
  const Var b = block.forward(x, Var(random_tensor({2, 4, 8}, 3)));
  EXPECT_GT(max_abs_diff(a.data(), b.data(), a.numel()), 1e-5f);
  EXPECT_THROW(block.forward(x), std::invalid_argument);  // memory is required
}

// One full block of each kind, every parameter and the input checked. Blocks use GELU or
// SwiGLU: through a whole block a ReLU kink cannot be kept away from every finite-difference
// step (ReLU itself is checked in FeedForward above, on kink-free inputs).
struct BlockCase {
  const char* name;
  bool pre_ln;
  NormKind norm;
  FfnKind ffn;
  PositionalKind pos_encoding;
  bool cross;
  bool causal;
};

class BlockGradients : public ::testing::TestWithParam<BlockCase> {};

TEST_P(BlockGradients, MatchFiniteDifferencesForParametersAndInput) {
  const BlockCase& c = GetParam();
  TransformerConfig cfg = tiny_config();
  cfg.pre_ln = c.pre_ln;
  cfg.norm = c.norm;
  cfg.ffn = c.ffn;
  cfg.pos_encoding = c.pos_encoding;
  LayerFixture fx(cfg);
  TransformerLayer block(cfg, fx.context, c.causal, c.cross);
  randomize_parameters(block, 10);
  const Var x(random_tensor({2, 3, 8}, 1));
  const Var memory = c.cross ? Var(random_tensor({2, 4, 8}, 2)) : Var();
  const std::vector<uint8_t> memory_padding = c.cross ? std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 0, 1} : std::vector<uint8_t>{};
  const std::vector<uint8_t> padding = c.causal ? std::vector<uint8_t>{} : std::vector<uint8_t>{1, 1, 1, 1, 1, 0};
  expect_parameter_gradients_match(block, [&] { return block.forward(x, padding, nullptr, memory, memory_padding); });
  if (c.cross) {
    expect_gradients_match(
        [&](std::vector<Var>& v) { return block.forward(v[0], padding, nullptr, v[1], memory_padding); },
        {x.value(), memory.value()});
  } else {
    expect_gradients_match([&](std::vector<Var>& v) { return block.forward(v[0], padding, nullptr, Var(), {}); },
                           {x.value()});
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryKind, BlockGradients,
    ::testing::Values(
        BlockCase{"EncoderPostLN", false, NormKind::LayerNorm, FfnKind::Gelu, PositionalKind::Sinusoidal, false, false},
        BlockCase{"DecoderCrossPostLN", false, NormKind::LayerNorm, FfnKind::Gelu, PositionalKind::Sinusoidal, true, true},
        BlockCase{"DecoderCrossPreLN", true, NormKind::LayerNorm, FfnKind::Gelu, PositionalKind::Learned, true, true},
        BlockCase{"GptPreLN", true, NormKind::LayerNorm, FfnKind::Gelu, PositionalKind::Learned, false, true},
        BlockCase{"GptPostLN", false, NormKind::LayerNorm, FfnKind::Gelu, PositionalKind::Learned, false, true},
        BlockCase{"GptRmsSwiGLURope", true, NormKind::RMSNorm, FfnKind::SwiGLU, PositionalKind::Rope, false, true}),
    [](const ::testing::TestParamInfo<BlockCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tapelm
