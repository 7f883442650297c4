// Memory estimates from a config: parameter counts follow the modules in nn/ (Linear,
// LayerNorm/RMSNorm, embeddings, positional tables, FFN widths); activations count what the
// tape keeps per token and layer (fused attention keeps no T×T matrix).
#include <tapelm/train/config/memory_estimate.h>

#include <algorithm>

#include <cmath>
#include <cstdio>
#include <limits>

#include <tapelm/autograd/gemm_backend.h>
#include <tapelm/autograd/kernels/gemm.h>

namespace tapelm {
namespace {

constexpr double kFloat = sizeof(float);

// ffn_hidden_width (nn/feed_forward.h) in double, so huge widths cannot overflow.
double ffn_width(const ModelSection& m) {
  if (m.ffn_hidden > 0) return double(m.ffn_hidden);
  const double d = double(m.n_embd);
  if (m.ffn != "swiglu") return 4 * d;
  return std::ceil(std::ceil(8 * d / 3) / 8) * 8;
}

double linear_parameters(double in, double out, bool bias) { return in * out + (bias ? out : 0); }

double norm_parameters(const ModelSection& m) { return m.norm == "layernorm" ? 2.0 * double(m.n_embd) : double(m.n_embd); }

double layer_parameters(const ModelSection& m, bool cross_attention) {
  const double d = double(m.n_embd), f = ffn_width(m);
  double count = 2 * norm_parameters(m);
  count += linear_parameters(d, 3 * d, m.bias) + linear_parameters(d, d, m.bias);  // qkv, proj
  if (cross_attention) {
    count += norm_parameters(m) + linear_parameters(d, d, m.bias) + linear_parameters(d, 2 * d, m.bias) +
             linear_parameters(d, d, m.bias);  // ln_cross, q, kv, proj
  }
  count += linear_parameters(d, f, m.bias) + linear_parameters(f, d, m.bias);
  if (m.ffn == "swiglu") count += linear_parameters(d, f, m.bias);
  return count;
}

// Elements of the layer's weight matrices, the operands of its products.
double layer_matrix_elements(const ModelSection& m, bool cross_attention) {
  const double d = double(m.n_embd), f = ffn_width(m);
  const double attention = 3 * d * d + d * d;                           // qkv, proj
  const double cross = cross_attention ? d * d + 2 * d * d + d * d : 0;  // q, kv, proj
  return attention + cross + (m.ffn == "swiglu" ? 3 : 2) * d * f;
}

// Whether a run of `train` makes bf16 weight copies: only when its bf16 products can run
// here, since otherwise they fall back to fp32 and an estimate that counted the copies would
// no longer be a floor.
bool makes_bf16_copies(const TrainSection& train) { return train.precision == "bf16" && bf16_products_available(); }

// Floats the tape keeps per token and layer for the backward pass: the norm outputs, q/k/v,
// the attention and projection outputs, the residual sums, and the FFN's hidden activations
// before and after the nonlinearity (three for SwiGLU).
double saved_floats_per_token_and_layer(const ModelSection& m, bool cross_attention) {
  const double d = double(m.n_embd), f = ffn_width(m);
  return 10 * d + (m.ffn == "swiglu" ? 3 : 2) * f + (cross_attention ? 5 * d : 0);
}

// Plans add config values, which may be absurd: saturate instead of overflowing (the estimate
// of such a plan is refused anyway).
int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<int64_t>::max() : sum;
}

int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<int64_t>::max() : product;
}

int64_t optimizer_slots(const OptimizerSection& o, const TrainSection& t) {
  const int64_t average = t.ema_decay > 0 ? 1 : 0;  // the moving average of the weights (optim/ema.h)
  if (o.name == "sgd") return (o.momentum > 0 ? 1 : 0) + average;
  return 2 + average;  // Adam's first and second moments
}

}  // namespace

MemoryEstimate estimate_memory(const ModelSection& m, const MemoryPlan& plan) {
  const double d = double(m.n_embd), ctx = double(m.ctx_len);
  const double layers = double(plan.layers), cross = double(plan.cross_attention_layers);
  const double self_only = layers - cross;

  double parameters = double(plan.embedding_rows) * d;
  double buffers = 0;  // fixed tables that are not trained
  const double tables = double(plan.positional_tables);
  if (m.pos_encoding == "learned") parameters += tables * ctx * d;
  if (m.pos_encoding == "sinusoidal") buffers += tables * ctx * d;
  if (m.pos_encoding == "rope") buffers += ctx * (d / double(m.n_head));
  parameters += self_only * layer_parameters(m, false) + cross * layer_parameters(m, true);
  if (m.pre_ln) parameters += (cross > 0 ? 2 : 1) * norm_parameters(m);  // final norm of each stack
  if (!plan.output_tied) parameters += double(plan.output_rows) * d;

  MemoryEstimate e;
  e.parameters = parameters;
  e.weight_bytes = kFloat * (parameters + buffers);
  const double tokens = double(plan.batch) * double(plan.seq_len);
  const double logits = double(plan.output_rows);
  if (plan.training) {
    e.gradient_bytes = kFloat * parameters;
    e.optimizer_bytes = kFloat * double(plan.optimizer_slots) * parameters;
    const double per_token = self_only * saved_floats_per_token_and_layer(m, false) +
                             cross * saved_floats_per_token_and_layer(m, true) + 2 * d + 2 * logits;
    e.activation_bytes = kFloat * tokens * per_token;
  } else {
    // Without a tape only one layer's intermediates are alive at a time, plus the logits.
    e.activation_bytes = kFloat * tokens * (saved_floats_per_token_and_layer(m, cross > 0) + 2 * d + logits);
  }
  e.kv_cache_bytes = kFloat * double(plan.cached_sequences) * layers * 2 * ctx * d;
  if (plan.bf16_copies) {
    // The layers' matrices and the output projection (an embedding table when tied); the
    // embedding lookups read no copy.
    const double matrices = self_only * layer_matrix_elements(m, false) + cross * layer_matrix_elements(m, true) +
                            double(plan.output_rows) * d;
    e.bf16_copy_bytes = 2 * matrices;
    if (plan.training) {
      // Per token, the inputs of the attention's input and output projections and of the FFN's
      // two, and a cross-attention's query and output projections; the output projection's
      // input and the cross-attention's key-value input (the source's tokens) are left out,
      // so the count stays a floor.
      const double f = ffn_width(m);
      e.bf16_activation_copy_bytes = 2 * tokens * (self_only * (3 * d + f) + cross * (5 * d + f));
    }
  }
  return e;
}

int64_t planned_vocab_size(const TokenizerSection& t) {
  const bool exact = t.type == "bpe" || t.type == "unigram";
  return exact && t.model.empty() ? t.vocab_size : 0;
}

MemoryPlan pretrain_memory_plan(const PretrainConfig& config, int64_t vocab_size) {
  MemoryPlan plan;
  plan.embedding_rows = vocab_size;
  plan.output_rows = vocab_size;
  plan.output_tied = config.model.tie_weights;
  plan.layers = config.model.n_layer;
  plan.batch = config.train.micro_batch_size;
  plan.seq_len = config.model.ctx_len;
  plan.training = true;
  plan.optimizer_slots = optimizer_slots(config.optimizer, config.train);
  plan.bf16_copies = makes_bf16_copies(config.train);
  return plan;
}

MemoryPlan finetune_memory_plan(const FinetuneConfig& config) {
  const bool from_scratch = config.init_from.empty();
  const int64_t vocab = from_scratch ? planned_vocab_size(config.tokenizer) : 0;
  MemoryPlan plan;
  plan.embedding_rows = vocab;
  plan.output_tied = config.model.tie_weights;
  plan.layers = config.model.n_layer;
  // A classifier's micro-batch of documents is up to data.max_windows rows each.
  plan.batch = saturating_mul(config.train.micro_batch_size, config.data.max_windows);
  plan.seq_len = config.max_len();
  plan.training = true;
  plan.optimizer_slots = optimizer_slots(config.optimizer, config.train);
  plan.bf16_copies = makes_bf16_copies(config.train);
  if (config.task == "completion") plan.output_rows = vocab;
  if (config.task == "seq2seq") {
    const int64_t target_vocab = planned_vocab_size(config.target_tokenizer);
    const Seq2SeqSection& s = config.seq2seq;
    plan.embedding_rows = saturating_add(plan.embedding_rows, target_vocab);
    plan.output_rows = target_vocab;
    plan.positional_tables = 2;
    plan.cross_attention_layers = s.n_decoder_layer > 0 ? s.n_decoder_layer : config.model.n_layer;
    plan.layers = saturating_add(s.n_encoder_layer > 0 ? s.n_encoder_layer : config.model.n_layer,
                                 plan.cross_attention_layers);
  }
  return plan;
}

MemoryPlan generation_memory_plan(const ModelSection& model, int64_t vocab_size) {
  // No bf16 copies: the products of generating one sequence have one row (the prompt's
  // forward pass aside), and those stay fp32.
  MemoryPlan plan;
  plan.embedding_rows = vocab_size;
  plan.output_rows = vocab_size;
  plan.output_tied = model.tie_weights;
  plan.layers = model.n_layer;
  plan.batch = 1;
  plan.seq_len = model.ctx_len;
  plan.cached_sequences = 1;
  return plan;
}

MemoryPlan finetune_inference_memory_plan(const FinetuneConfig& config) {
  MemoryPlan plan = finetune_memory_plan(config);
  plan.training = false;
  plan.optimizer_slots = 0;
  plan.batch = config.eval.batch_size;
  // With at most kGemvMaxRows sequences a batch, decoding's products have that few rows and
  // stay fp32 (autograd/gemm_backend.h), making no copies: none are counted then, so that the
  // estimate stays a floor.
  plan.bf16_copies = plan.bf16_copies && plan.batch > kernels::kGemvMaxRows;
  if (config.task != "classification") {
    // Decoding holds eval.batch_size rows (batch_size / beam_size inputs of beam_size
    // hypotheses each), or one input's beam when the beam is wider than the batch.
    plan.cached_sequences = std::max(config.eval.batch_size, config.decode.beam_size);
  }
  return plan;
}

std::string format_bytes(double bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 6) {
    bytes /= 1024;
    ++unit;
  }
  char text[48];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%.0f B", bytes);
  } else {
    const char* format = bytes < 10 ? "%.2f %s" : bytes < 100 ? "%.1f %s" : bytes < 10000 ? "%.0f %s" : "%.3g %s";
    std::snprintf(text, sizeof text, format, bytes, units[unit]);
  }
  return text;
}

std::string describe_memory(const MemoryEstimate& e) {
  std::string text;
  const auto part = [&](const char* name, double bytes) {
    if (bytes > 0) text += (text.empty() ? "" : ", ") + std::string(name) + " " + format_bytes(bytes);
  };
  part("weights", e.weight_bytes);
  part("gradients", e.gradient_bytes);
  part("optimizer state", e.optimizer_bytes);
  part("activations", e.activation_bytes);
  part("KV cache", e.kv_cache_bytes);
  part("bf16 weight copies", e.bf16_copy_bytes);
  part("bf16 activation copies", e.bf16_activation_copy_bytes);
  return text;
}

}  // namespace tapelm
