// The KV cache: growth in place without a tape, gradients through cached entries with one,
// reordering rows for beam search, and the encoder-decoder's incremental decoding logits
// against recomputing the whole prefix (decoded outputs: tests/decode).
#include <gtest/gtest.h>

#include <string>

#include <tapelm/autograd/ops.h>
#include "module_gradcheck.h"
#include <tapelm/nn/encoder_decoder.h>
#include <tapelm/nn/gpt.h>
#include <tapelm/nn/kv_cache.h>

namespace tapelm {
namespace {

using testing::max_abs_diff;
using testing::random_tensor;

TEST(KvCache, AppendWithoutTapeWritesInPlaceAndDoublesAFullBuffer) {
  NoGradGuard no_grad;
  LayerKV layer;
  const Var k1(random_tensor({1, 2, 3, 4}, 1)), v1(random_tensor({1, 2, 3, 4}, 2));
  layer.append(k1, v1);
  ASSERT_EQ(layer.length, 3);
  ASSERT_EQ(layer.k.shape(), Shape({1, 2, 64, 4}));  // room for 64 positions from the start
  const float* buffer = layer.k.data();
  for (int step = 0; step < 61; ++step) {
    layer.append(Var(random_tensor({1, 2, 1, 4}, 10 + step)), Var(random_tensor({1, 2, 1, 4}, 100 + step)));
  }
  EXPECT_EQ(layer.length, 64);
  EXPECT_EQ(layer.k.data(), buffer) << "appending within capacity must not reallocate";
  const Var k_last(random_tensor({1, 2, 1, 4}, 7)), v_last(random_tensor({1, 2, 1, 4}, 8));
  layer.append(k_last, v_last);
  EXPECT_EQ(layer.length, 65);
  EXPECT_EQ(layer.k.shape(), Shape({1, 2, 128, 4}));
  // Head 1's first three positions survived the move; position 64 holds the last append.
  for (int64_t i = 0; i < 3 * 4; ++i) EXPECT_EQ(layer.k.data()[128 * 4 + i], k1.data()[3 * 4 + i]);
  for (int64_t e = 0; e < 4; ++e) {
    EXPECT_EQ(layer.k.data()[(128 + 64) * 4 + e], k_last.data()[4 + e]);
    EXPECT_EQ(layer.v.data()[64 * 4 + e], v_last.data()[e]);
  }
}

TEST(KvCache, BuffersNeverHoldMoreThanTheModelsContextUnlessAStepNeedsIt) {
  NoGradGuard no_grad;
  KVCache cache(40);
  LayerKV& layer = cache.layer(1);
  EXPECT_EQ(cache.layer(0).max_length, 40) << "every layer gets the bound";
  layer.append(Var(random_tensor({2, 2, 3, 4}, 1)), Var(random_tensor({2, 2, 3, 4}, 2)));
  EXPECT_EQ(layer.k.shape(), Shape({2, 2, 40, 4})) << "40 positions, not 64";
  for (int step = 0; step < 37; ++step) {
    layer.append(Var(random_tensor({2, 2, 1, 4}, 10 + step)), Var(random_tensor({2, 2, 1, 4}, 100 + step)));
  }
  EXPECT_EQ(layer.k.shape(), Shape({2, 2, 40, 4}));
  // A caller going past the bound still gets room, as much as it needs.
  layer.append(Var(random_tensor({2, 2, 2, 4}, 5)), Var(random_tensor({2, 2, 2, 4}, 6)));
  EXPECT_EQ(layer.length, 42);
  EXPECT_EQ(layer.k.shape(), Shape({2, 2, 42, 4}));
}

TEST(KvCache, RecordingAfterInPlaceStepsConcatenatesOnlyTheFilledPositions) {
  LayerKV layer;
  const Var k1(random_tensor({1, 1, 2, 3}, 1)), k2(random_tensor({1, 1, 1, 3}, 2));
  {
    NoGradGuard no_grad;
    layer.append(k1, k1);
  }
  layer.append(k2, k2);  // a tape records now
  ASSERT_EQ(layer.k.shape(), Shape({1, 1, 3, 3}));
  EXPECT_EQ(layer.length, 3);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(layer.k.data()[i], k1.data()[i]);
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(layer.v.data()[6 + i], k2.data()[i]);
}

TEST(KvCache, AppendRejectsMismatchedShapes) {
  NoGradGuard no_grad;
  LayerKV layer;
  layer.append(Var(random_tensor({1, 2, 3, 4}, 1)), Var(random_tensor({1, 2, 3, 4}, 2)));
  try {
    layer.append(Var(random_tensor({1, 3, 1, 4}, 1)), Var(random_tensor({1, 3, 1, 4}, 2)));
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the cached"), std::string::npos) << e.what();
  }
}

AttentionConfig causal_attention() {
  AttentionConfig cfg;
  cfg.n_embd = 8;
  cfg.n_head = 2;
  cfg.causal = true;
  return cfg;
}

TEST(KvCache, GradientsFlowThroughCachedStepsWhenATapeRecords) {
  Rng rng(3);
  MultiHeadAttention attn(causal_attention(), rng);
  const Var x(random_tensor({2, 4, 8}, 4));
  const Tensor weights = random_tensor({2, 4, 8}, 5);
  Var full_loss = sum_all(mul(attn.forward(x), Var(weights)));
  backward(full_loss);
  std::vector<Tensor> full_grads;
  for (auto& [_, p] : attn.named_parameters()) full_grads.push_back(p.grad().clone());
  attn.zero_grad();

  LayerKV cache;
  const std::vector<Var> parts = split(x, {3, 1}, 1);
  std::vector<Var> outs;
  for (const Var& part : parts) outs.push_back(attn.forward(part, {}, &cache));
  Var stepped_loss = sum_all(mul(concat(outs, 1), Var(weights)));
  backward(stepped_loss);
  std::size_t i = 0;
  for (auto& [name, p] : attn.named_parameters()) {
    EXPECT_LT(max_abs_diff(p.grad().data(), full_grads[i].data(), p.numel()), 1e-5f) << name;
    ++i;
  }
}

TEST(KvCache, ReorderedRowsContinueAsTheRowsTheyCopy) {
  GPTConfig cfg;
  static_cast<TransformerConfig&>(cfg) = testing::tiny_config();
  cfg.vocab_size = 11;
  cfg.n_layer = 2;
  GPT model(cfg);
  NoGradGuard no_grad;
  KVCache cache;
  model.forward({1, 2, 3, 4, 5, 6}, 2, 3, {1, 1, 1, 0, 1, 1}, &cache);
  cache.reorder({1, 0, 1});
  EXPECT_EQ(cache.batch(), 3);
  const Var stepped = model.forward({7, 8, 9}, 3, 1, {}, &cache);
  // Row i continues source row {1, 0, 1}[i]: compare with the full forward of that row.
  const std::vector<std::vector<int32_t>> rows = {{4, 5, 6, 7}, {1, 2, 3, 8}, {4, 5, 6, 9}};
  const std::vector<std::vector<uint8_t>> pads = {{0, 1, 1, 1}, {1, 1, 1, 1}, {0, 1, 1, 1}};
  for (int64_t r = 0; r < 3; ++r) {
    const Var full = model.forward(rows[r], 1, 4, pads[r]);
    EXPECT_LT(max_abs_diff(full.data() + 3 * 11, stepped.data() + r * 11, 11), 1e-5f) << "row " << r;
  }
  EXPECT_THROW(cache.reorder({3}), std::invalid_argument);
}

EncoderDecoderConfig seq2seq_config(uint64_t seed) {
  EncoderDecoderConfig cfg;
  static_cast<TransformerConfig&>(cfg) = testing::tiny_config();
  cfg.src_vocab_size = 9;
  cfg.tgt_vocab_size = 6;
  cfg.n_encoder_layer = 2;
  cfg.n_decoder_layer = 2;
  cfg.seed = seed;
  return cfg;
}

TEST(Seq2SeqKvCache, IncrementalDecodeLogitsMatchTheFullDecode) {
  for (const bool pre_ln : {false, true}) {
    EncoderDecoderConfig cfg = seq2seq_config(5);
    cfg.pre_ln = pre_ln;
    EncoderDecoder model(cfg);
    model.eval();
    NoGradGuard no_grad;
    const std::vector<int32_t> src = {3, 4, 5, 6, 7, 8, 3, 0};
    const std::vector<uint8_t> src_padding = {1, 1, 1, 1, 1, 1, 1, 0};
    const std::vector<int32_t> tgt = {1, 3, 4, 5, 1, 5, 5, 3};  // B = 2, T = 4
    const Var memory = model.encode(src, 2, 4, src_padding);
    const Var full = model.decode(tgt, 2, 4, memory, src_padding);
    KVCache cache;
    for (int64_t t = 0; t < 4; ++t) {
      const Var step = model.decode({tgt[t], tgt[4 + t]}, 2, 1, memory, src_padding, {}, &cache);
      for (int64_t b = 0; b < 2; ++b) {
        EXPECT_LT(max_abs_diff(full.data() + (b * 4 + t) * 6, step.data() + b * 6, 6), 1e-5f)
            << "pre_ln " << pre_ln << " t " << t << " row " << b;
      }
    }
    EXPECT_EQ(cache.length(), 4);
  }
}

TEST(Seq2SeqKvCache, ReorderKeepingTheMemoryLeavesTheCrossAttentionEntries) {
  EncoderDecoder model(seq2seq_config(2));
  NoGradGuard no_grad;
  KVCache cache;
  const Var memory = model.encode({3, 4, 5, 6}, 2, 2);  // two different sources
  model.decode({1, 1}, 2, 1, memory, {}, {}, &cache);
  const Var cross_before = cache.layer(0).cross_k;
  const Var self_before = cache.layer(0).k;
  const int64_t row = cross_before.numel() / 2;
  ASSERT_GT(max_abs_diff(cross_before.data(), cross_before.data() + row, row), 0.0f);
  // The self-attention keys of the one cached position, per head: [H, capacity, D] per row.
  const int64_t H = self_before.size(1), capacity = self_before.size(2), D = self_before.size(3);
  const auto first_position_equal = [&](const Var& a, int64_t row_a, const Var& b, int64_t row_b) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t at_a = (row_a * H + h) * capacity * D, at_b = (row_b * H + h) * capacity * D;
      if (max_abs_diff(a.data() + at_a, b.data() + at_b, D) != 0.0f) return false;
    }
    return true;
  };
  // Swapping the rows moves the self-attention entries either way. Told the memory stays
  // (here falsely, so that it shows), the cache leaves the cross-attention entries in place.
  cache.reorder({1, 0}, /*same_memory=*/true);
  EXPECT_EQ(max_abs_diff(cache.layer(0).cross_k.data(), cross_before.data(), 2 * row), 0.0f);
  EXPECT_TRUE(first_position_equal(cache.layer(0).k, 0, self_before, 1));
  EXPECT_TRUE(first_position_equal(cache.layer(0).k, 1, self_before, 0));
  cache.reorder({1, 0});
  EXPECT_EQ(max_abs_diff(cache.layer(0).cross_k.data(), cross_before.data() + row, row), 0.0f);
  EXPECT_THROW(cache.reorder({0}, /*same_memory=*/true), std::invalid_argument);
}

TEST(Seq2SeqKvCache, RejectsAMemoryOfAnotherShapeThanTheCachedOne) {
  EncoderDecoder model(seq2seq_config(1));
  NoGradGuard no_grad;
  KVCache cache;
  model.decode({1}, 1, 1, model.encode({3, 4, 5}, 1, 3), {}, {}, &cache);
  try {
    model.decode({3}, 1, 1, model.encode({3, 4}, 1, 2), {}, {}, &cache);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the cached keys"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tapelm
