// What every config kind shares (pretraining, fine-tuning): one plain struct per shared YAML
// section (defaults are the member initialisers), RunConfig that holds them, their key tables
// and rules, and loading, writing and comparing any kind of config through its schema. Only
// the config layer knows YAML; the tasks translate these structs into nn/, optim/ and data/
// option structs. Keys and their meaning are documented in train/README.md.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <tapelm/train/config/config_schema.h>

namespace tapelm {

struct ModelSection {
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_embd = 128;
  int64_t ctx_len = 128;
  double dropout = 0.0;               // [0, 1)
  std::string ffn = "gelu";           // gelu | relu | swiglu
  int64_t ffn_hidden = 0;             // 0 = the model's default (4·n_embd)
  std::string norm = "layernorm";     // layernorm | rmsnorm
  std::string pos_encoding = "learned";  // learned | sinusoidal | rope | none
  bool pre_ln = true;
  bool tie_weights = true;
  bool bias = true;
  bool scale_embeddings = false;      // token embeddings × sqrt(n_embd), as in the original Transformer
  // Constants of the forward pass, saved so a checkpoint's config.yaml says everything needed
  // to rebuild the model elsewhere (docs/weights.md); a config.yaml without them gets these.
  double norm_eps = 1e-5;                   // added to the variance in every LayerNorm / RMSNorm
  std::string gelu_approximation = "tanh";  // ffn: gelu; tanh | none, as PyTorch's GELU(approximate=...)
  double rope_base = 10000.0;               // pos_encoding: rope; θ_i = rope_base^(-2i/head_size)
  double sinusoidal_base = 10000.0;         // pos_encoding: sinusoidal; θ_i = sinusoidal_base^(-2i/n_embd)
};

struct TokenizerSection {
  std::string type = "bpe";  // bpe | unigram
  int64_t vocab_size = 4096;
  double character_coverage = 0.9995;  // (0, 1]
  bool byte_fallback = true;
  std::string model;          // an existing SentencePiece .model; empty = train one
  int64_t max_sentences = 0;  // sentences sampled to train the tokenizer; 0 = all
};


struct OptimizerSection {
  std::string name = "adamw";  // adamw | adam | sgd
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
  double momentum = 0.0;  // sgd only
};

struct SchedulerSection {
  std::string name = "cosine";  // constant | cosine | linear
  int64_t warmup_steps = 0;
  double min_lr = 0.0;  // the floor cosine/linear decay to; <= optimizer.lr
};

// The most threads train.threads (and the --threads options) accept: more than any CPU has
// cores, far fewer than would exhaust the process's thread limit.
inline constexpr int64_t kMaxThreads = 1024;

struct TrainSection {
  int64_t max_steps = 1000;
  int64_t batch_size = 32;        // global, in sequences
  int64_t micro_batch_size = 0;   // 0 in the file = batch_size; must divide batch_size
  double grad_clip = 1.0;         // global-norm clip; 0 = off
  int64_t threads = 0;            // 0 = all cores
  std::string gemm = "auto";      // auto | onednn | openblas | eigen (autograd/gemm_backend.h)
  std::string precision = "fp32"; // fp32 | bf16: the matrix products' operands
  int64_t max_bad_steps = 5;      // consecutive non-finite steps before stopping
  double label_smoothing = 0.0;   // [0, 1); training loss only, evaluation stays unsmoothed
  // [0, 1): evaluate and export the exponential moving average of the weights (optim/ema.h); 0 = off
  double ema_decay = 0.0;
  // Refuse a run whose estimated memory exceeds what the machine has (train/config/memory_estimate.h);
  // false = try anyway.
  bool memory_check = true;

  int64_t grad_accum_steps() const { return batch_size / micro_batch_size; }
};

// Validation, the same keys for every task.
struct EvalSection {
  int64_t interval = 100;    // steps between evaluations; 0 = only at the end
  std::string metric;        // the early-stopping / best-checkpoint metric; empty = the task's first
  int64_t patience = 0;      // stop after this many evaluations without improvement; 0 = never
  // Validation examples per evaluation (pretraining: windows of ctx_len tokens), spread evenly
  // over the split (data files are often sorted); 0 = all.
  int64_t max_examples = 0;
  int64_t batch_size = 32;   // examples (windows) per forward pass when evaluating
};

struct LoggingSection {
  int64_t interval = 10;
  bool tensorboard = false;  // also write a TensorBoard event file beside metrics.jsonl
};

struct CheckpointSection {
  int64_t interval = 500;  // steps between checkpoints; 0 = only at the end
  int64_t keep_last = 3;   // 0 = keep all
  bool keep_best = true;   // also keep the best validation metric's checkpoint in <out_dir>/best
  // >= 2: at the end, the mean of the newest N checkpoints' weights goes to <out_dir>/average,
  // is evaluated on the validation split and replaces the best checkpoint on the test split when
  // it scores better (train/checkpoint/average_checkpoints.h); 0 = off.
  int64_t average_last = 0;
};

// The keys with the same meaning, defaults and validation for every task.
struct RunConfig {
  std::string out_dir;  // required
  int64_t seed = 1337;
  ModelSection model;
  TokenizerSection tokenizer;  // the tokenizer a run trains when it starts from scratch
  OptimizerSection optimizer;
  SchedulerSection scheduler;
  TrainSection train;
  EvalSection eval;
  LoggingSection logging;
  CheckpointSection checkpoint;
};

// Per-section key tables.
SectionSchema<ModelSection> model_section_schema();
SectionSchema<TokenizerSection> tokenizer_section_schema();
SectionSchema<OptimizerSection> optimizer_section_schema();
SectionSchema<SchedulerSection> scheduler_section_schema();
SectionSchema<TrainSection> train_section_schema();
SectionSchema<EvalSection> eval_section_schema();
SectionSchema<LoggingSection> logging_section_schema();
SectionSchema<CheckpointSection> checkpoint_section_schema();

// Cross-key rules of single sections; `section` is the name the section has in the file.
void check_model_rules(const ModelSection& model, const RuleContext& context, const std::string& section = "model");
void check_tokenizer_rules(const TokenizerSection& tokenizer, const RuleContext& context,
                           const std::string& section = "tokenizer");
void check_train_rules(const TrainSection& train, const RuleContext& context, const std::string& section = "train");
// The learning-rate schedule every config kind builds (schedule_config in train/config/builders.h):
// scheduler.min_lr <= optimizer.lr, and warmup_steps < train.max_steps for the decaying kinds
// (cosine, linear: the decay needs steps after the warmup), <= for constant.
void check_schedule_rules(const OptimizerSection& optimizer, const SchedulerSection& scheduler,
                          const TrainSection& train, const RuleContext& context);
// checkpoint.average_last is 0 or >= 2 and averages no more checkpoints than keep_last keeps.
void check_checkpoint_rules(const CheckpointSection& checkpoint, const RuleContext& context);
// Every rule over RunConfig's sections.
void check_run_rules(const RunConfig& config, const RuleContext& context);

// A config kind's schema builds on these, so the shared keys are registered once. The
// top-level keys out_dir and seed:
template <class C>
SectionSchema<C> run_top_level_schema() {
  SectionSchema<C> top;
  top.add_required("out_dir", &RunConfig::out_dir, non_empty<std::string>()).add("seed", &RunConfig::seed, at_least(0));
  return top;
}

// The sections a config file starts with: model, tokenizer.
template <class C>
ConfigSchema<C>& add_model_sections(ConfigSchema<C>& schema) {
  return schema.section("model", &RunConfig::model, model_section_schema())
      .section("tokenizer", &RunConfig::tokenizer, tokenizer_section_schema());
}

// The sections after the task's data: optimizer, scheduler, train, eval, logging, checkpoint;
// with train.micro_batch_size's default and every rule over the shared sections.
template <class C>
ConfigSchema<C>& add_training_sections(ConfigSchema<C>& schema) {
  return schema.section("optimizer", &RunConfig::optimizer, optimizer_section_schema())
      .section("scheduler", &RunConfig::scheduler, scheduler_section_schema())
      .section("train", &RunConfig::train, train_section_schema())
      .section("eval", &RunConfig::eval, eval_section_schema())
      .section("logging", &RunConfig::logging, logging_section_schema())
      .section("checkpoint", &RunConfig::checkpoint, checkpoint_section_schema())
      .resolver([](C& c) {
        if (c.train.micro_batch_size == 0) c.train.micro_batch_size = c.train.batch_size;
      })
      .rule([](const C& c, const RuleContext& context) { check_run_rules(c, context); });
}

// Each config kind's schema, built once. make_config_schema is specialised beside the kind
// (PretrainConfig, FinetuneConfig).
template <class C>
ConfigSchema<C> make_config_schema();
template <class C>
const ConfigSchema<C>& config_schema() {
  static const ConfigSchema<C> schema = make_config_schema<C>();
  return schema;
}

template <class C>
using IfRunConfig = std::enable_if_t<std::is_base_of_v<RunConfig, C>, int>;

// Loads, applies `--set` overrides, fills derived defaults and validates. Throws ConfigError.
template <class C>
C load_config(const std::string& path, const std::vector<std::string>& overrides = {}) {
  return config_schema<C>().load_file(path, overrides);
}
template <class C>
C parse_config(const std::string& yaml_text, const std::string& source_name,
               const std::vector<std::string>& overrides = {}) {
  return config_schema<C>().load_text(yaml_text, source_name, overrides);
}

// The resolved config with every key; loading it back gives an identical struct.
template <class C, IfRunConfig<C> = 0>
std::string to_yaml(const C& config) {
  return config_schema<C>().to_yaml(config);
}

// The resolved YAML lists every key, so equal text means equal configs.
template <class C, IfRunConfig<C> = 0>
bool operator==(const C& a, const C& b) {
  return to_yaml(a) == to_yaml(b);
}
template <class C, IfRunConfig<C> = 0>
bool operator!=(const C& a, const C& b) {
  return !(a == b);
}

}  // namespace tapelm
