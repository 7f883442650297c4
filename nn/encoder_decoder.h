// EncoderDecoder: the full Transformer of "Attention Is All You Need". The encoder reads the
// source with bidirectional self-attention; the decoder reads the target with masked
// self-attention plus cross-attention to the encoder output, and an LM head predicts the
// next target token. Source and target embeddings are shared (`tok_emb`) or separate
// (`src_emb`, `tgt_emb`); with tie_weights the LM head is the target embedding.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <tapelm/autograd/loss.h>
#include <tapelm/autograd/rng.h>
#include <tapelm/nn/dropout.h>
#include <tapelm/nn/embedding.h>
#include <tapelm/nn/linear.h>
#include <tapelm/nn/module.h>
#include <tapelm/nn/positional.h>
#include <tapelm/nn/transformer_config.h>
#include <tapelm/nn/transformer_stack.h>

namespace tapelm {

struct EncoderDecoderConfig : TransformerConfig {
  // Transformer-base defaults: n_embd 512, 8 heads, ffn_hidden 2048, ReLU, post-LN, sinusoidal
  // positions, embeddings scaled by √n_embd, dropout 0.1.
  EncoderDecoderConfig();

  int64_t src_vocab_size = 32000;
  int64_t tgt_vocab_size = 32000;
  int64_t n_encoder_layer = 6;
  int64_t n_decoder_layer = 6;
  bool shared_embeddings = false;  // one table for both sides (needs equal vocabularies)
  bool tie_weights = true;         // LM head = target (or shared) embedding
};

class EncoderDecoder : public Module {
 public:
  explicit EncoderDecoder(const EncoderDecoderConfig& cfg);

  // src: B·S ids; src_padding: [B·S] (1 = real) or empty. → encoder output ("memory") [B, S, C].
  Var encode(const std::vector<int32_t>& src, int64_t B, int64_t S, const std::vector<uint8_t>& src_padding = {}) const;

  // tgt: B·T ids (the decoder input, e.g. BOS + target[:-1]); memory: encode()'s output
  // with its src_padding; tgt_padding: [B·T] or empty. → logits [B, T, tgt_vocab_size].
  // With a cache (incremental decoding), tgt holds the T positions after the cached ones
  // and memory must be the same encoder output on every step of one cache (its keys and
  // values are projected once, on the first step); the new positions are then cached.
  Var decode(const std::vector<int32_t>& tgt, int64_t B, int64_t T, const Var& memory,
             const std::vector<uint8_t>& src_padding = {}, const std::vector<uint8_t>& tgt_padding = {},
             KVCache* cache = nullptr) const;

  // decode(tgt, encode(src)).
  Var forward(const std::vector<int32_t>& src, const std::vector<int32_t>& tgt, int64_t B, int64_t S, int64_t T,
              const std::vector<uint8_t>& src_padding = {}, const std::vector<uint8_t>& tgt_padding = {}) const;

  // Mean cross-entropy of forward(src, tgt) against targets (B·T ids; ignore_index skipped;
  // label_smoothing as in cross_entropy, autograd/loss.h).
  Var loss(const std::vector<int32_t>& src, const std::vector<int32_t>& tgt, const std::vector<int32_t>& targets,
           int64_t B, int64_t S, int64_t T, const std::vector<uint8_t>& src_padding = {},
           const std::vector<uint8_t>& tgt_padding = {}, int32_t ignore_index = kIgnoreIndex,
           float label_smoothing = 0.0f) const;

  const EncoderDecoderConfig& config() const { return cfg_; }
  // Row b of the batch of the following forward passes is example rows[b] (first_example + b)
  // of step `step`'s global batch (DropoutSource::set_batch, nn/dropout.h). Training loops call
  // it before each micro-batch; dropout masks then do not depend on how a step is split.
  void set_dropout_batch(int64_t step, DropoutRows rows) { dropout_->set_batch(step, std::move(rows)); }

 private:
  EncoderDecoderConfig cfg_;
  Rng init_rng_;
  std::shared_ptr<DropoutSource> dropout_;
  std::shared_ptr<Embedding> src_emb_;
  std::shared_ptr<Embedding> tgt_emb_;  // same object as src_emb_ when shared
  std::shared_ptr<PositionalEncoding> src_pos_emb_;
  std::shared_ptr<PositionalEncoding> tgt_pos_emb_;
  std::shared_ptr<Dropout> drop_;
  std::shared_ptr<TransformerStack> encoder_;
  std::shared_ptr<TransformerStack> decoder_;
  std::shared_ptr<Linear> lm_head_;  // null when tied
};

}  // namespace tapelm
