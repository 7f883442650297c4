// The encoder-decoder Transformer.
#include <tapelm/nn/encoder_decoder.h>

#include <stdexcept>
#include <string>

#include <tapelm/autograd/errors.h>
#include <tapelm/autograd/matmul.h>
#include <tapelm/nn/inputs.h>

namespace tapelm {

EncoderDecoderConfig::EncoderDecoderConfig() {
  n_embd = 512;
  n_head = 8;
  ffn_hidden = 2048;
  ffn = FfnKind::Relu;
  pre_ln = false;
  pos_encoding = PositionalKind::Sinusoidal;
  scale_embeddings = true;
  dropout = 0.1f;
}

EncoderDecoder::EncoderDecoder(const EncoderDecoderConfig& cfg)
    : cfg_(cfg), init_rng_(cfg.seed), dropout_(std::make_shared<DropoutSource>(cfg.seed)) {
  validate(cfg, "EncoderDecoder");
  if (cfg.src_vocab_size <= 0 || cfg.tgt_vocab_size <= 0) {
    throw std::invalid_argument("EncoderDecoder: src_vocab_size and tgt_vocab_size must be positive, got " +
                                std::to_string(cfg.src_vocab_size) + " and " + std::to_string(cfg.tgt_vocab_size));
  }
  if (cfg.n_encoder_layer <= 0 || cfg.n_decoder_layer <= 0) {
    throw std::invalid_argument("EncoderDecoder: n_encoder_layer and n_decoder_layer must be positive, got " +
                                std::to_string(cfg.n_encoder_layer) + " and " + std::to_string(cfg.n_decoder_layer));
  }
  if (cfg.shared_embeddings && cfg.src_vocab_size != cfg.tgt_vocab_size) {
    throw std::invalid_argument("EncoderDecoder: shared_embeddings needs src_vocab_size == tgt_vocab_size, got " +
                                std::to_string(cfg.src_vocab_size) + " and " + std::to_string(cfg.tgt_vocab_size));
  }
  if (cfg.shared_embeddings) {
    src_emb_ = tgt_emb_ =
        register_module("tok_emb", std::make_shared<Embedding>(cfg.src_vocab_size, cfg.n_embd, init_rng_));
  } else {
    src_emb_ = register_module("src_emb", std::make_shared<Embedding>(cfg.src_vocab_size, cfg.n_embd, init_rng_));
    tgt_emb_ = register_module("tgt_emb", std::make_shared<Embedding>(cfg.tgt_vocab_size, cfg.n_embd, init_rng_));
  }
  src_pos_emb_ = register_module("src_pos_emb",
                                 std::make_shared<PositionalEncoding>(cfg.pos_encoding, cfg.ctx_len, cfg.n_embd,
                                                                      init_rng_, cfg.sinusoidal_base));
  tgt_pos_emb_ = register_module("tgt_pos_emb",
                                 std::make_shared<PositionalEncoding>(cfg.pos_encoding, cfg.ctx_len, cfg.n_embd,
                                                                      init_rng_, cfg.sinusoidal_base));
  drop_ = register_module("drop", std::make_shared<Dropout>(cfg.dropout, dropout_));
  encoder_ = register_module("encoder", std::make_shared<TransformerStack>(
      cfg, make_layer_context(cfg, init_rng_, dropout_, cfg.n_encoder_layer), cfg.n_encoder_layer,
      /*causal=*/false, /*cross_attention=*/false));
  decoder_ = register_module("decoder", std::make_shared<TransformerStack>(
      cfg, make_layer_context(cfg, init_rng_, dropout_, cfg.n_decoder_layer), cfg.n_decoder_layer,
      /*causal=*/true, /*cross_attention=*/true));
  if (!cfg.tie_weights) {
    lm_head_ = register_module("lm_head", std::make_shared<Linear>(cfg.n_embd, cfg.tgt_vocab_size, false, init_rng_));
  }
}

Var EncoderDecoder::encode(const std::vector<int32_t>& src, int64_t B, int64_t S,
                           const std::vector<uint8_t>& src_padding) const {
  const char* who = "EncoderDecoder::encode";
  check_token_ids(who, src, B, S, cfg_.src_vocab_size);
  check_padding_mask(who, src_padding, B, S);
  check_positions(who, 0, S, cfg_.ctx_len);
  const Var x = embed_tokens(cfg_, *src_emb_, *src_pos_emb_, *drop_, src, B, S);
  return encoder_->forward(x, src_padding);
}

Var EncoderDecoder::decode(const std::vector<int32_t>& tgt, int64_t B, int64_t T, const Var& memory,
                           const std::vector<uint8_t>& src_padding, const std::vector<uint8_t>& tgt_padding,
                           KVCache* cache) const {
  const char* who = "EncoderDecoder::decode";
  const int64_t start = cache ? cache->length() : 0;
  check_token_ids(who, tgt, B, T, cfg_.tgt_vocab_size);
  check_padding_mask(who, tgt_padding, B, T);
  check_positions(who, start, T, cfg_.ctx_len);
  if (!memory.defined() || memory.dim() != 3 || memory.size(0) != B || memory.size(2) != cfg_.n_embd) {
    throw ShapeError(std::string(who) + ": memory must be the encoder output [B = " + std::to_string(B) +
                     ", S, " + std::to_string(cfg_.n_embd) + "], got " +
                     (memory.defined() ? shape_str(memory.shape()) : std::string("an undefined Var")));
  }
  check_padding_mask(who, src_padding, B, memory.size(1));
  // Checks the batch against the cache's (before any state changes).
  const std::vector<uint8_t> key_padding = cache ? cache->extend_padding(tgt_padding, B, T) : tgt_padding;
  const Var x = embed_tokens(cfg_, *tgt_emb_, *tgt_pos_emb_, *drop_, tgt, B, T, start);
  const Var h = decoder_->forward(x, key_padding, cache, memory, src_padding);
  if (cache) cache->advance(T);
  return lm_head_ ? lm_head_->forward(h) : linear(h, tgt_emb_->weight(), Var());
}

Var EncoderDecoder::forward(const std::vector<int32_t>& src, const std::vector<int32_t>& tgt, int64_t B, int64_t S,
                            int64_t T, const std::vector<uint8_t>& src_padding,
                            const std::vector<uint8_t>& tgt_padding) const {
  return decode(tgt, B, T, encode(src, B, S, src_padding), src_padding, tgt_padding);
}

Var EncoderDecoder::loss(const std::vector<int32_t>& src, const std::vector<int32_t>& tgt,
                         const std::vector<int32_t>& targets, int64_t B, int64_t S, int64_t T,
                         const std::vector<uint8_t>& src_padding, const std::vector<uint8_t>& tgt_padding,
                         int32_t ignore_index, float label_smoothing) const {
  if (static_cast<int64_t>(targets.size()) != B * T) {
    throw ShapeError("EncoderDecoder::loss: " + std::to_string(targets.size()) +
                     " targets, expected B·T = " + std::to_string(B * T));
  }
  return cross_entropy(forward(src, tgt, B, S, T, src_padding, tgt_padding), targets, ignore_index, label_smoothing);
}

}  // namespace tapelm
