// bench_train's rows: models, batches, FLOP counts.
#include "bench/train_rows.h"

#include <stdexcept>
#include <utility>
#include <vector>

#include <tapelm/autograd/rng.h>
#include <tapelm/nn/encoder_decoder.h>
#include <tapelm/nn/sequence_classifier.h>

namespace tapelm {
namespace {

constexpr uint64_t kModelSeed = 1234;
constexpr uint64_t kBatchSeed = 42;

using Ids = std::vector<int32_t>;

GPTConfig gpt_config(int64_t n_layer, int64_t n_head, int64_t n_embd, int64_t ctx, int64_t vocab) {
  GPTConfig c;
  c.n_layer = n_layer;
  c.n_head = n_head;
  c.n_embd = n_embd;
  c.ctx_len = ctx;
  c.vocab_size = vocab;
  c.ffn = FfnKind::Gelu;  // ffn_hidden 0: the GELU default, 4·n_embd
  c.norm = NormKind::LayerNorm;
  c.pre_ln = true;
  c.pos_encoding = PositionalKind::Learned;
  c.tie_weights = true;
  c.dropout = 0.0f;
  c.seed = kModelSeed;
  return c;
}

Ids random_ids(Rng& rng, int64_t count, int64_t vocab) {
  Ids ids(count);
  for (auto& id : ids) id = static_cast<int32_t>(rng.below(vocab));
  return ids;
}

// Parameters whose dotted name satisfies `pred`.
template <typename Pred>
int64_t count_parameters(const Module& model, Pred pred) {
  int64_t n = 0;
  for (const auto& [name, param] : model.named_parameters()) {
    if (pred(name)) n += param.numel();
  }
  return n;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// PaLM appendix B: 6·N + 12·L·T·C per token, where N counts the parameters that take part in
// matrix products — every parameter but the learned position table (the tied token
// embedding counts once, as the LM-head product; the lookup is free; biases and norm gains,
// a fraction of a percent, are counted too) — and 12·L·T·C is the attention score and value
// products (QKᵀ and PV, 2·2·T·C per token and layer forward, ×3 with the backward), over the
// full T×T without halving for the causal mask.
double gpt_train_flops_per_token(const GPT& model) {
  const GPTConfig& c = model.config();
  const double n = static_cast<double>(model.num_parameters() - c.ctx_len * c.n_embd);
  return 6.0 * n + 12.0 * c.n_layer * c.ctx_len * c.n_embd;
}

// The same count over an encoder-decoder step of B sources of S tokens and targets of T:
//   6·(N_enc·S + (N_dec − N_kv)·T + N_kv·S + V_tgt·C·T)
//   + 12·C·(L_enc·S² + L_dec·T² + L_dec·T·S)        per example.
// The encoder's parameters see the S source positions; the decoder's the T target
// positions, except the cross-attention key/value projections (N_kv), which project the S
// encoder outputs; the LM head (the tied target embedding) V_tgt·C sees T. The lookups and
// the sinusoids are free. Attention: encoder self-attention S×S, decoder self-attention
// T×T (not halved for the mask) and cross-attention T×S per layer.
double seq2seq_train_flops_per_step(const EncoderDecoder& model, int64_t B, int64_t S, int64_t T) {
  const EncoderDecoderConfig& c = model.config();
  const bool tied = c.tie_weights;
  const auto is_kv = [](const std::string& n) { return n.find(".cross_attn.kv.") != std::string::npos; };
  const double enc = count_parameters(model, [](const std::string& n) { return starts_with(n, "encoder."); });
  const double kv = count_parameters(model, is_kv);
  const double dec =
      count_parameters(model, [&](const std::string& n) { return starts_with(n, "decoder.") && !is_kv(n); });
  const double head = tied ? static_cast<double>(c.tgt_vocab_size * c.n_embd)
                           : count_parameters(model, [](const std::string& n) { return starts_with(n, "lm_head."); });
  const double params = 6.0 * (enc * S + dec * T + kv * S + head * T);
  const double attention =
      12.0 * c.n_embd * (c.n_encoder_layer * S * S + c.n_decoder_layer * T * T + c.n_decoder_layer * T * S);
  return B * (params + attention);
}

// A classifier step over B sequences of T tokens: 6·N_body·T + 6·N_head + 12·L·T²·C per
// example, where N_body is every parameter but the token embedding (no LM head here, so the
// table is only looked up), the position table and the head, which sees one pooled vector
// per sequence. Mean pooling's 2·2·T·C (a [1, T]·[T, C] product, forward and input gradient)
// is left out: under 0.01 % of the total at the spam shapes.
double classifier_train_flops_per_step(const SequenceClassifier& model, int64_t B, int64_t T) {
  const SequenceClassifierConfig& c = model.config();
  const double head = count_parameters(model, [](const std::string& n) { return starts_with(n, "head."); });
  const double body = count_parameters(model, [](const std::string& n) {
    return !starts_with(n, "head.") && !starts_with(n, "tok_emb.") && !starts_with(n, "pos_emb.");
  });
  return B * (6.0 * body * T + 6.0 * head + 12.0 * c.n_layer * T * T * c.n_embd);
}

TrainRow gpt_train_row(const GptRow& row, int n_steps) {
  auto model = std::make_unique<GPT>(row.config);
  const GPT* gpt = model.get();
  const int64_t B = row.batch, T = row.config.ctx_len, V = row.config.vocab_size;
  // Inputs and their next-token targets, [B, T] each.
  auto batches = std::make_shared<std::vector<std::pair<Ids, Ids>>>();
  Rng rng(kBatchSeed);
  for (int s = 0; s < n_steps; ++s) {
    Ids inputs = random_ids(rng, B * T, V);
    batches->emplace_back(std::move(inputs), random_ids(rng, B * T, V));
  }
  TrainRow out;
  out.tokens_per_step = B * T;
  out.flops_per_step = gpt_train_flops_per_token(*gpt) * static_cast<double>(B * T);
  out.description = "GPT, batch " + std::to_string(B) + " x " + std::to_string(T) + " tokens, dropout 0";
  out.loss = [gpt, batches, B, T](int s) { return gpt->loss((*batches)[s].first, (*batches)[s].second, B, T); };
  out.model = std::move(model);
  return out;
}

// configs/finetune/g2p.yaml's model at CMUdict-like shapes: 32 source letters, 80 target
// phonemes, every word 10 tokens on both sides (about the mean with <bos>/<eos>), so there
// is no padding and both implementations do the same work.
TrainRow g2p_train_row(int n_steps) {
  EncoderDecoderConfig c;
  c.n_embd = 192;
  c.n_head = 4;
  c.ffn = FfnKind::Relu;
  c.ffn_hidden = 768;
  c.pre_ln = true;
  c.pos_encoding = PositionalKind::Sinusoidal;
  c.scale_embeddings = true;
  c.dropout = 0.1f;
  c.ctx_len = 40;
  c.src_vocab_size = 32;
  c.tgt_vocab_size = 80;
  c.n_encoder_layer = 3;
  c.n_decoder_layer = 3;
  c.tie_weights = true;
  c.shared_embeddings = false;
  c.seed = kModelSeed;
  constexpr int64_t B = 128, S = 10, T = 10;
  constexpr float kLabelSmoothing = 0.1f;
  auto model = std::make_unique<EncoderDecoder>(c);
  EncoderDecoder* m = model.get();
  struct Batch {
    Ids src, tgt_in, tgt_out;
  };
  auto batches = std::make_shared<std::vector<Batch>>();
  Rng rng(kBatchSeed);
  for (int s = 0; s < n_steps; ++s) {
    Batch b;
    b.src = random_ids(rng, B * S, c.src_vocab_size);
    b.tgt_in = random_ids(rng, B * T, c.tgt_vocab_size);
    b.tgt_out = random_ids(rng, B * T, c.tgt_vocab_size);
    batches->push_back(std::move(b));
  }
  TrainRow out;
  out.tokens_per_step = B * (S + T);
  out.flops_per_step = seq2seq_train_flops_per_step(*m, B, S, T);
  out.description = "encoder-decoder, batch 128 x (10 source + 10 target) tokens, dropout 0.1, label smoothing 0.1";
  out.loss = [m, batches](int s) {
    const Batch& b = (*batches)[s];
    m->set_dropout_batch(s, 0);
    return m->loss(b.src, b.tgt_in, b.tgt_out, B, S, T, {}, {}, kIgnoreIndex, kLabelSmoothing);
  };
  out.model = std::move(model);
  return out;
}

// configs/finetune/spam.yaml's classifier: e-mails of the full 256 tokens, 2 classes.
TrainRow spam_train_row(int n_steps) {
  SequenceClassifierConfig c;
  c.vocab_size = 4096;
  c.n_layer = 4;
  c.n_head = 4;
  c.n_embd = 128;
  c.ctx_len = 256;
  c.ffn = FfnKind::Gelu;
  c.pre_ln = true;
  c.pos_encoding = PositionalKind::Learned;
  c.dropout = 0.1f;
  c.n_classes = 2;
  c.pooling = Pooling::Mean;
  c.causal = true;
  c.seed = kModelSeed;
  constexpr int64_t B = 32, T = 256;
  auto model = std::make_unique<SequenceClassifier>(c);
  SequenceClassifier* m = model.get();
  auto batches = std::make_shared<std::vector<std::pair<Ids, Ids>>>();
  Rng rng(kBatchSeed);
  for (int s = 0; s < n_steps; ++s) {
    Ids ids = random_ids(rng, B * T, c.vocab_size);
    batches->emplace_back(std::move(ids), random_ids(rng, B, c.n_classes));
  }
  TrainRow out;
  out.tokens_per_step = B * T;
  out.flops_per_step = classifier_train_flops_per_step(*m, B, T);
  out.description = "classifier (mean pooling), batch 32 x 256 tokens, dropout 0.1";
  out.loss = [m, batches](int s) {
    m->set_dropout_batch(s, 0);
    return m->loss((*batches)[s].first, (*batches)[s].second, B, T);
  };
  out.model = std::move(model);
  return out;
}

}  // namespace

std::optional<GptRow> find_gpt_row(const std::string& name) {
  if (name == "tiny") return GptRow{gpt_config(4, 4, 128, 64, 4096), 16};
  if (name == "small") return GptRow{gpt_config(6, 6, 384, 256, 8192), 8};
  return std::nullopt;
}

TrainRow make_train_row(const std::string& name, int n_steps) {
  if (const auto gpt = find_gpt_row(name)) return gpt_train_row(*gpt, n_steps);
  if (name == "g2p") return g2p_train_row(n_steps);
  if (name == "spam") return spam_train_row(n_steps);
  throw std::invalid_argument("bench_train: unknown --model '" + name + "' (expected tiny, small, g2p or spam)");
}

}  // namespace tapelm
