// Decoder-only body: embeddings, layers, final norm.
#include <tapelm/nn/backbone.h>

#include <stdexcept>

#include <tapelm/nn/inputs.h>

namespace tapelm {

Backbone::Backbone(const TransformerConfig& cfg, int64_t vocab_size, int64_t n_layer, bool causal, std::string name)
    : cfg_(cfg), vocab_size_(vocab_size), n_layer_(n_layer), causal_(causal), name_(std::move(name)),
      init_rng_(cfg.seed), dropout_(std::make_shared<DropoutSource>(cfg.seed)) {
  validate(cfg, name_.c_str());
  if (vocab_size <= 0) {
    throw std::invalid_argument(name_ + ": vocab_size must be positive, got " + std::to_string(vocab_size));
  }
  if (n_layer <= 0) throw std::invalid_argument(name_ + ": n_layer must be positive, got " + std::to_string(n_layer));
  tok_emb_ = register_module("tok_emb", std::make_shared<Embedding>(vocab_size, cfg.n_embd, init_rng_));
  pos_emb_ = register_module("pos_emb", std::make_shared<PositionalEncoding>(cfg.pos_encoding, cfg.ctx_len, cfg.n_embd,
                                                                            init_rng_, cfg.sinusoidal_base));
  drop_ = register_module("drop", std::make_shared<Dropout>(cfg.dropout, dropout_));
  const LayerContext ctx = make_layer_context(cfg, init_rng_, dropout_, n_layer);
  blocks_ = register_module("blocks", make_layers(cfg, ctx, n_layer, causal, /*cross_attention=*/false));
  if (auto norm = make_final_norm(cfg)) ln_f_ = register_module("ln_f", norm);
}

Var Backbone::hidden_states(const std::vector<int32_t>& ids, int64_t B, int64_t T, const std::vector<uint8_t>& padding,
                            KVCache* cache) const {
  const std::string who = name_ + "::forward";
  if (cache && !causal_) {
    throw std::invalid_argument(who + ": a KV cache needs a causal model (earlier positions must not see later ones)");
  }
  const int64_t start = cache ? cache->length() : 0;
  check_token_ids(who.c_str(), ids, B, T, vocab_size_);
  check_padding_mask(who.c_str(), padding, B, T);
  check_positions(who.c_str(), start, T, cfg_.ctx_len);
  // Checks the batch against the cache's (before any state changes).
  const std::vector<uint8_t> key_padding = cache ? cache->extend_padding(padding, B, T) : padding;
  const Var x = embed_tokens(cfg_, *tok_emb_, *pos_emb_, *drop_, ids, B, T, start);
  const Var h = run_layers(*blocks_, ln_f_.get(), x, key_padding, cache, Var(), {});
  if (cache) cache->advance(T);
  return h;
}

}  // namespace tapelm
