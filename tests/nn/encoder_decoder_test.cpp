// EncoderDecoder: names (shared / separate embeddings), shapes, padding, cross-attention
// dependence, decoder causality, gradients, errors.
#include <gtest/gtest.h>

#include "module_gradcheck.h"
#include <tapelm/nn/encoder_decoder.h>

namespace tapelm {
namespace {

using testing::max_abs_diff;

EncoderDecoderConfig tiny_seq2seq() {
  EncoderDecoderConfig cfg;
  cfg.n_embd = 8;
  cfg.n_head = 2;
  cfg.ffn_hidden = 12;
  cfg.ctx_len = 16;
  cfg.dropout = 0.0f;
  cfg.src_vocab_size = 13;
  cfg.tgt_vocab_size = 9;
  cfg.n_encoder_layer = 2;
  cfg.n_decoder_layer = 1;
  return cfg;
}

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, _] : m.named_parameters()) out.push_back(name);
  return out;
}

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(EncoderDecoder, DefaultsAreTransformerBase) {
  const EncoderDecoderConfig cfg;
  EXPECT_EQ(cfg.n_embd, 512);
  EXPECT_EQ(cfg.n_head, 8);
  EXPECT_EQ(cfg.ffn_hidden, 2048);
  EXPECT_EQ(cfg.ffn, FfnKind::Relu);
  EXPECT_FALSE(cfg.pre_ln);
  EXPECT_EQ(cfg.pos_encoding, PositionalKind::Sinusoidal);
  EXPECT_TRUE(cfg.scale_embeddings);
  EXPECT_FLOAT_EQ(cfg.dropout, 0.1f);
  EXPECT_EQ(cfg.n_encoder_layer, 6);
  EXPECT_EQ(cfg.n_decoder_layer, 6);
}

TEST(EncoderDecoder, SeparateEmbeddingsUntiedHeadNames) {
  EncoderDecoderConfig cfg = tiny_seq2seq();
  cfg.tie_weights = false;
  EncoderDecoder model(cfg);
  const auto names = names_of(model);
  EXPECT_EQ(names.front(), "src_emb.weight");
  EXPECT_TRUE(has(names, "tgt_emb.weight"));
  EXPECT_TRUE(has(names, "encoder.blocks.1.attn.qkv.weight"));
  EXPECT_TRUE(has(names, "encoder.blocks.0.ffn.fc2.bias"));
  EXPECT_FALSE(has(names, "encoder.blocks.0.cross_attn.q.weight"));
  EXPECT_TRUE(has(names, "decoder.blocks.0.ln_cross.weight"));
  EXPECT_TRUE(has(names, "decoder.blocks.0.cross_attn.kv.weight"));
  EXPECT_FALSE(has(names, "decoder.blocks.1.ln1.weight"));
  EXPECT_FALSE(has(names, "encoder.ln_f.weight")) << "post-LN stacks end in a norm already";
  EXPECT_FALSE(has(names, "src_pos_emb.weight")) << "sinusoids are not parameters";
  EXPECT_EQ(names.back(), "lm_head.weight");
  EXPECT_EQ(model.named_parameters().back().second.shape(), Shape({9, 8}));
}

TEST(EncoderDecoder, SharedEmbeddingsAndPreNormLearnedPositionsNames) {
  EncoderDecoderConfig cfg = tiny_seq2seq();
  cfg.tgt_vocab_size = 13;
  cfg.shared_embeddings = true;
  cfg.pre_ln = true;
  cfg.pos_encoding = PositionalKind::Learned;
  EncoderDecoder model(cfg);
  const auto names = names_of(model);
  EXPECT_EQ(names.front(), "tok_emb.weight");
  EXPECT_FALSE(has(names, "src_emb.weight"));
  EXPECT_FALSE(has(names, "lm_head.weight"));
  EXPECT_TRUE(has(names, "src_pos_emb.weight"));
  EXPECT_TRUE(has(names, "tgt_pos_emb.weight"));
  EXPECT_TRUE(has(names, "encoder.ln_f.weight"));
  EXPECT_TRUE(has(names, "decoder.ln_f.bias"));
}

TEST(EncoderDecoder, EncodeAndDecodeShapes) {
  EncoderDecoder model(tiny_seq2seq());
  const Var memory = model.encode({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2, 5);
  EXPECT_EQ(memory.shape(), Shape({2, 5, 8}));
  EXPECT_EQ(model.decode({1, 2, 3, 4, 5, 6}, 2, 3, memory).shape(), Shape({2, 3, 9}));
  EXPECT_EQ(model.forward({1, 2, 3, 4}, {0, 1, 2, 3, 4, 5}, 2, 2, 3).shape(), Shape({2, 3, 9}));
}

TEST(EncoderDecoder, AppendingSourcePaddingChangesNothing) {
  EncoderDecoder model(tiny_seq2seq());
  model.eval();
  const std::vector<int32_t> tgt = {1, 2, 3, 4, 5, 6};
  const Var memory = model.encode({1, 2, 3, 4, 5, 6}, 2, 3);
  const Var logits = model.decode(tgt, 2, 3, memory);
  // The same sources with two pad tokens (id 0) appended to each row.
  const std::vector<uint8_t> src_padding = {1, 1, 1, 0, 0, 1, 1, 1, 0, 0};
  const Var padded_memory = model.encode({1, 2, 3, 0, 0, 4, 5, 6, 0, 0}, 2, 5, src_padding);
  for (int64_t b = 0; b < 2; ++b) {
    EXPECT_LT(max_abs_diff(memory.data() + b * 3 * 8, padded_memory.data() + b * 5 * 8, 3 * 8), 1e-5f);
  }
  const Var padded_logits = model.decode(tgt, 2, 3, padded_memory, src_padding);
  EXPECT_LT(max_abs_diff(logits.data(), padded_logits.data(), logits.numel()), 1e-5f);
}

// Example 1 alone (source 3, target 3 tokens) and as row 1 of a batch padded to 5 + 5 tokens:
// with dropout on, its logits agree (up to the rounding of other matrix shapes), so every
// site — embeddings, encoder, decoder self- and cross-attention, FFN — drew the same mask.
TEST(EncoderDecoder, DropoutMasksOfAnExampleDoNotDependOnItsBatchOrPadding) {
  EncoderDecoderConfig cfg = tiny_seq2seq();
  cfg.dropout = 0.3f;
  EncoderDecoder model(cfg);
  model.set_dropout_batch(4, 1);
  const Var alone = model.forward({4, 5, 6}, {1, 7, 8}, 1, 3, 3);
  const std::vector<int32_t> src = {1, 2, 3, 0, 0, 4, 5, 6, 0, 0}, tgt = {1, 2, 3, 0, 0, 1, 7, 8, 0, 0};
  const std::vector<uint8_t> padding = {1, 1, 1, 0, 0, 1, 1, 1, 0, 0};
  model.set_dropout_batch(4, 0);
  const Var batch = model.forward(src, tgt, 2, 5, 5, padding, padding);
  EXPECT_LT(max_abs_diff(alone.data(), batch.data() + 5 * 9, 3 * 9), 1e-5f);
  model.set_dropout_batch(5, 1);
  EXPECT_GT(max_abs_diff(alone.data(), model.forward({4, 5, 6}, {1, 7, 8}, 1, 3, 3).data(), 3 * 9), 1e-3f)
      << "another step draws other masks";
}

TEST(EncoderDecoder, DecoderDependsOnTheSourceAndIsCausal) {
  EncoderDecoder model(tiny_seq2seq());
  model.eval();
  const Var a = model.forward({1, 2, 3, 4}, {1, 2, 3}, 1, 4, 3);
  const Var b = model.forward({1, 2, 7, 4}, {1, 2, 3}, 1, 4, 3);
  EXPECT_GT(max_abs_diff(a.data(), b.data(), a.numel()), 1e-6f) << "cross-attention must carry the source";
  const Var c = model.forward({1, 2, 3, 4}, {1, 2, 5}, 1, 4, 3);
  EXPECT_EQ(max_abs_diff(a.data(), c.data(), 2 * 9), 0.0f) << "target positions 0 and 1 cannot see position 2";
}

TEST(EncoderDecoder, GradientsReachEveryParameterAndMatchFiniteDifferences) {
  EncoderDecoderConfig cfg = tiny_seq2seq();
  cfg.n_encoder_layer = 1;
  cfg.tie_weights = false;
  EncoderDecoder model(cfg);
  const std::vector<int32_t> src = {1, 5, 9, 2, 3, 3}, tgt = {0, 4, 8, 1};
  const std::vector<uint8_t> src_padding = {1, 1, 1, 1, 1, 0};
  Var loss = model.loss(src, tgt, {4, 8, 1, 2}, 2, 3, 2, src_padding);
  backward(loss);
  for (const auto& [name, p] : model.named_parameters()) EXPECT_TRUE(p.has_grad()) << name;
  testing::randomize_parameters(model, 20);
  testing::expect_parameter_gradients_match(
      model, [&] { return model.forward(src, tgt, 2, 3, 2, src_padding); }, 1e-2f, 5e-3f, 16);
}

TEST(EncoderDecoder, ErrorsNameTheProblem) {
  EncoderDecoderConfig cfg = tiny_seq2seq();
  cfg.shared_embeddings = true;
  EXPECT_THROW(EncoderDecoder m(cfg), std::invalid_argument);
  EncoderDecoder model(tiny_seq2seq());
  try {
    model.encode({1, 13}, 1, 2);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("EncoderDecoder::encode: token id 13 at batch 0, position 1"),
              std::string::npos) << e.what();
  }
  const Var memory = model.encode({1, 2}, 1, 2);
  EXPECT_THROW(model.decode({9}, 1, 1, memory), std::invalid_argument);  // tgt vocabulary is 9
  EXPECT_THROW(model.decode({1, 2}, 2, 1, memory), std::invalid_argument);  // batch mismatch
  EXPECT_THROW(model.decode({1}, 1, 1, memory, {1, 1, 1}), std::invalid_argument);  // src mask size
  EXPECT_THROW(model.encode(std::vector<int32_t>(17, 1), 1, 17), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
