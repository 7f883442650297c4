// Config sections → nn/, data/, optim/ option structs and objects.
#include "train/builders.h"

#include <omp.h>

#include <stdexcept>

#include "optim/adam.h"
#include "optim/param_groups.h"
#include "optim/sgd.h"

namespace tapelm {
namespace {

FfnKind ffn_kind(const std::string& name) {
  if (name == "gelu") return FfnKind::Gelu;
  if (name == "relu") return FfnKind::Relu;
  if (name == "swiglu") return FfnKind::SwiGLU;
  throw ConfigError("model.ffn: unknown kind '" + name + "' (expected gelu, relu or swiglu)");
}

NormKind norm_kind(const std::string& name) {
  if (name == "layernorm") return NormKind::LayerNorm;
  if (name == "rmsnorm") return NormKind::RMSNorm;
  throw ConfigError("model.norm: unknown kind '" + name + "' (expected layernorm or rmsnorm)");
}

PositionalKind positional_kind(const std::string& name) {
  if (name == "learned") return PositionalKind::Learned;
  if (name == "sinusoidal") return PositionalKind::Sinusoidal;
  if (name == "rope") return PositionalKind::Rotary;
  throw ConfigError("model.pos_encoding: unknown kind '" + name + "' (expected learned, sinusoidal or rope)");
}

}  // namespace

GPTConfig gpt_config(const ModelSection& model, int64_t vocab_size, uint64_t seed) {
  GPTConfig cfg;
  cfg.vocab_size = vocab_size;
  cfg.n_layer = model.n_layer;
  cfg.tie_weights = model.tie_weights;
  cfg.d_model = model.n_embd;
  cfg.n_head = model.n_head;
  cfg.d_ff = model.ffn_hidden;
  cfg.ffn = ffn_kind(model.ffn);
  cfg.gelu_approximation =
      model.gelu_approximation == "none" ? GeluApproximation::None : GeluApproximation::Tanh;
  cfg.norm = norm_kind(model.norm);
  cfg.pre_norm = model.pre_ln;
  cfg.dropout = static_cast<float>(model.dropout);
  cfg.bias = model.bias;
  cfg.ctx_len = model.ctx_len;
  cfg.positional = positional_kind(model.pos_encoding);
  cfg.scale_embeddings = model.scale_embeddings;
  cfg.norm_eps = static_cast<float>(model.norm_eps);
  cfg.rope_base = static_cast<float>(model.rope_base);
  cfg.sinusoidal_base = static_cast<float>(model.sinusoidal_base);
  cfg.seed = seed;
  return cfg;
}

DataConfig data_config(const PretrainConfig& config, const std::string& tokenizer_model) {
  DataConfig data;
  data.corpus.sources = config.data.train;
  data.corpus.invalid_utf8 = parse_utf8_policy(config.data.utf8);
  data.corpus.format = parse_corpus_format(config.data.format);
  data.corpus.text_field = config.data.text_field;
  data.val_sources = config.data.val;
  data.tokenizer_model = tokenizer_model.empty() ? config.tokenizer.model : tokenizer_model;
  const TokenizerSection& t = config.tokenizer;
  data.tokenizer.model_type = t.type;
  data.tokenizer.vocab_size = static_cast<int>(t.vocab_size);
  data.tokenizer.character_coverage = t.character_coverage;
  data.tokenizer.byte_fallback = t.byte_fallback;
  data.tokenizer.input_sentence_size = static_cast<uint64_t>(t.max_sentences);
  // Tokenizer training is deterministic only for a fixed thread count; a fixed count makes
  // the same config give the same tokenizer on every machine.
  data.tokenizer.num_threads = 1;
  data.shards.cache_dir = config.data.cache_dir;
  data.shards.split.val_fraction = config.data.val.empty() ? config.data.val_fraction : 0.0;
  return data;
}

ScheduleConfig schedule_config(const PretrainConfig& config) {
  return schedule_config(config.optimizer, config.scheduler, config.train.max_steps);
}

ScheduleConfig schedule_config(const OptimizerSection& optimizer, const SchedulerSection& scheduler, int64_t max_steps) {
  ScheduleConfig schedule;
  schedule.kind = parse_schedule_kind(scheduler.name);
  schedule.lr = optimizer.lr;
  schedule.min_lr = scheduler.min_lr;
  schedule.warmup_steps = scheduler.warmup_steps;
  schedule.total_steps = max_steps;
  return schedule;
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSection& o, const NamedParameters& params) {
  return make_optimizer(o, weight_decay_groups(params, o.weight_decay));
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSection& o, std::vector<ParamGroup> groups) {
  const AdamConfig adam{o.beta1, o.beta2, o.eps};
  if (o.name == "adamw") return std::make_unique<AdamW>(std::move(groups), adam);
  if (o.name == "adam") return std::make_unique<Adam>(std::move(groups), adam);
  if (o.name == "sgd") return std::make_unique<Sgd>(std::move(groups), SgdConfig{o.momentum});
  throw ConfigError("optimizer.name: unknown optimizer '" + o.name + "' (expected adamw, adam or sgd)");
}

DecodingOptions decoding_options(const SampleSection& sample, uint64_t seed) {
  DecodingOptions options;
  options.max_new_tokens = sample.max_new_tokens;
  options.temperature = sample.temperature;
  options.top_k = sample.top_k;
  options.top_p = sample.top_p;
  options.seed = seed;
  return options;
}

int use_threads(int64_t threads) {
  const int count = threads > 0 ? static_cast<int>(threads) : omp_get_num_procs();
  omp_set_num_threads(count);
  return count;
}

std::string thread_count_text(int threads) {
  return std::to_string(threads) + (threads == 1 ? " thread" : " threads");
}

}  // namespace tapelm
