// Config sections → nn/, data/, optim/ option structs and objects.
#include <tapelm/train/config/builders.h>

#include <omp.h>

#include <stdexcept>

#include <tapelm/optim/adam.h>
#include <tapelm/optim/param_groups.h>
#include <tapelm/optim/sgd.h>

namespace tapelm {

GPTConfig gpt_config(const ModelSection& model, int64_t vocab_size, uint64_t seed) {
  GPTConfig cfg;
  cfg.vocab_size = vocab_size;
  cfg.n_layer = model.n_layer;
  cfg.tie_weights = model.tie_weights;
  cfg.n_embd = model.n_embd;
  cfg.n_head = model.n_head;
  cfg.ffn_hidden = model.ffn_hidden;
  cfg.ffn = config_enum<FfnKind>("model.ffn", model.ffn);
  cfg.gelu_approximation = config_enum<GeluApproximation>("model.gelu_approximation", model.gelu_approximation);
  cfg.norm = config_enum<NormKind>("model.norm", model.norm);
  cfg.pre_ln = model.pre_ln;
  cfg.dropout = static_cast<float>(model.dropout);
  cfg.bias = model.bias;
  cfg.ctx_len = model.ctx_len;
  cfg.pos_encoding = config_enum<PositionalKind>("model.pos_encoding", model.pos_encoding);
  cfg.scale_embeddings = model.scale_embeddings;
  cfg.norm_eps = static_cast<float>(model.norm_eps);
  cfg.rope_base = static_cast<float>(model.rope_base);
  cfg.sinusoidal_base = static_cast<float>(model.sinusoidal_base);
  cfg.seed = seed;
  return cfg;
}

TokenizerConfig tokenizer_config(const TokenizerSection& t, uint32_t seed) {
  TokenizerConfig config;
  config.type = config_enum<TokenizerType>("tokenizer.type", t.type);
  config.vocab_size = static_cast<int>(t.vocab_size);
  config.character_coverage = t.character_coverage;
  config.byte_fallback = t.byte_fallback;
  config.max_sentences = static_cast<uint64_t>(t.max_sentences);
  // Tokenizer training is deterministic only for a fixed thread count; a fixed count makes
  // the same config give the same tokenizer on every machine.
  config.num_threads = 1;
  config.seed = seed;
  return config;
}

DataConfig data_config(const PretrainConfig& config, const std::string& tokenizer_model) {
  DataConfig data;
  data.corpus.sources = config.data.train;
  data.corpus.utf8 = config_enum<Utf8Policy>("data.utf8", config.data.utf8);
  data.corpus.format = config_enum<CorpusFormat>("data.format", config.data.format);
  data.corpus.text_field = config.data.text_field;
  data.val_sources = config.data.val;
  data.tokenizer_model = tokenizer_model.empty() ? config.tokenizer.model : tokenizer_model;
  data.tokenizer = tokenizer_config(config.tokenizer, TokenizerConfig{}.seed);
  data.shards.cache_dir = config.data.cache_dir;
  data.shards.split.val_fraction = config.data.val.empty() ? config.data.val_fraction : 0.0;
  return data;
}

ScheduleConfig schedule_config(const PretrainConfig& config) {
  return schedule_config(config.optimizer, config.scheduler, config.train.max_steps);
}

ScheduleConfig schedule_config(const OptimizerSection& optimizer, const SchedulerSection& scheduler, int64_t max_steps) {
  ScheduleConfig schedule;
  schedule.kind = config_enum<ScheduleKind>("scheduler.name", scheduler.name);
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
  switch (config_enum<OptimizerKind>("optimizer.name", o.name)) {
    case OptimizerKind::AdamW: return std::make_unique<AdamW>(std::move(groups), adam);
    case OptimizerKind::Adam: return std::make_unique<Adam>(std::move(groups), adam);
    case OptimizerKind::Sgd: return std::make_unique<Sgd>(std::move(groups), SgdConfig{o.momentum});
  }
  throw std::logic_error("make_optimizer: optimizer.name '" + o.name + "' has no builder");
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

std::string use_gemm(const TrainSection& train, std::ostream& warn) {
  set_gemm_backend(config_enum<GemmBackend>("train.gemm", train.gemm));
  const std::string fallback = set_gemm_precision(config_enum<GemmPrecision>("train.precision", train.precision));
  if (!fallback.empty()) warn << "warning: train.precision: " << fallback << std::endl;
  return std::string("gemm ") + enum_name(gemm_backend()) + ", " + enum_name(gemm_precision());
}

std::string thread_count_text(int threads) {
  return std::to_string(threads) + (threads == 1 ? " thread" : " threads");
}

}  // namespace tapelm
