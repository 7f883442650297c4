// Backbone: the decoder-only body shared by GPT and SequenceClassifier — token embedding
// `tok_emb`, positional encoding `pos_emb`, `blocks.{i}` and (pre-LN) `ln_f` — registered at
// the model's top level, so a classifier can start from a GPT checkpoint's keys.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <tapelm/autograd/rng.h>
#include <tapelm/nn/dropout.h>
#include <tapelm/nn/embedding.h>
#include <tapelm/nn/kv_cache.h>
#include <tapelm/nn/module.h>
#include <tapelm/nn/norm.h>
#include <tapelm/nn/positional.h>
#include <tapelm/nn/transformer_config.h>
#include <tapelm/nn/transformer_stack.h>

namespace tapelm {

class Backbone : public Module {
 public:
  // ids: B·T token ids (row-major [B, T]); padding: [B · T] (1 = real token) or empty.
  // With a cache (causal backbones only), ids continue the cached positions. → [B, T, C].
  Var hidden_states(const std::vector<int32_t>& ids, int64_t B, int64_t T, const std::vector<uint8_t>& padding = {},
                    KVCache* cache = nullptr) const;

  const TransformerConfig& architecture() const { return cfg_; }
  int64_t vocab_size() const { return vocab_size_; }
  int64_t n_layer() const { return n_layer_; }
  bool causal() const { return causal_; }
  const Embedding& token_embedding() const { return *tok_emb_; }
  // Row b of the batch of the following forward passes is example rows[b] (first_example + b)
  // of step `step`'s global batch (DropoutSource::set_batch, nn/dropout.h). Training loops call
  // it before each micro-batch; dropout masks then do not depend on how a step is split.
  void set_dropout_batch(int64_t step, DropoutRows rows) { dropout_->set_batch(step, std::move(rows)); }

 protected:
  // `name` prefixes error messages ("GPT", "SequenceClassifier").
  Backbone(const TransformerConfig& cfg, int64_t vocab_size, int64_t n_layer, bool causal, std::string name);
  // The init stream, positioned after the backbone's weights, for the head a subclass adds.
  Rng& init_rng() { return init_rng_; }
  const std::string& name() const { return name_; }

 private:
  TransformerConfig cfg_;
  int64_t vocab_size_;
  int64_t n_layer_;
  bool causal_;
  std::string name_;
  Rng init_rng_;
  std::shared_ptr<DropoutSource> dropout_;
  std::shared_ptr<Embedding> tok_emb_;
  std::shared_ptr<PositionalEncoding> pos_emb_;
  std::shared_ptr<Dropout> drop_;
  std::shared_ptr<LayerList> blocks_;
  std::shared_ptr<Norm> ln_f_;
};

}  // namespace tapelm
