// The pretraining config: one plain struct per YAML section (defaults are the member
// initialisers), loading with validation, `--set` overrides and writing back the resolved
// YAML. These structs are the file format; the trainer translates them into the nn/, optim/
// and data/ option structs. Keys and their meaning are documented in configs/pretrain/*.yaml.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/config/config_schema.h"

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

struct DataSection {
  std::vector<std::string> train;  // paths or globs (required)
  std::vector<std::string> val;    // empty = hold out val_fraction of train
  double val_fraction = 0.05;      // [0, 1); used only when val is empty
  std::string cache_dir;           // empty in the file = <parent of out_dir>/cache
  std::string utf8 = "error";      // error | replace | skip
  // text: one file = one document. jsonl | csv | tsv: one record = one document, the text of
  // its `text_field` (so a labeled file can be pretrained on).
  std::string format = "text";
  std::string text_field = "text";  // JSON field / CSV column holding the text
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
};

struct SampleSection {
  std::string prompt;
  int64_t max_new_tokens = 100;
  double temperature = 1.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // (0, 1]; 1 = off
};

struct PretrainConfig {
  std::string out_dir;  // required
  int64_t seed = 1337;
  ModelSection model;
  TokenizerSection tokenizer;
  DataSection data;
  OptimizerSection optimizer;
  SchedulerSection scheduler;
  TrainSection train;
  EvalSection eval;
  LoggingSection logging;
  CheckpointSection checkpoint;
  SampleSection sample;
};

// Per-section key tables, shared with other config kinds (fine-tuning) that reuse sections.
SectionSchema<ModelSection> model_section_schema();
SectionSchema<TokenizerSection> tokenizer_section_schema();
SectionSchema<DataSection> data_section_schema();
SectionSchema<OptimizerSection> optimizer_section_schema();
SectionSchema<SchedulerSection> scheduler_section_schema();
SectionSchema<TrainSection> train_section_schema();
SectionSchema<EvalSection> eval_section_schema();
SectionSchema<LoggingSection> logging_section_schema();
SectionSchema<CheckpointSection> checkpoint_section_schema();
SectionSchema<SampleSection> sample_section_schema();

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

const ConfigSchema<PretrainConfig>& pretrain_config_schema();

// Loads, applies `--set` overrides, fills derived defaults and validates. Throws ConfigError.
PretrainConfig load_pretrain_config(const std::string& path, const std::vector<std::string>& overrides = {});
PretrainConfig parse_pretrain_config(const std::string& yaml_text, const std::string& source_name,
                                     const std::vector<std::string>& overrides = {});

// The resolved config with every key; loading it back gives an identical struct.
std::string to_yaml(const PretrainConfig& config);

// A checkpoint's config.yaml as written by an earlier tapelm, in today's keys: eval.batches (B
// micro-batches of validation windows) becomes eval.max_examples = B x train.micro_batch_size
// with eval.batch_size = train.micro_batch_size. Text in today's keys is returned unchanged.
std::string upgrade_pretrain_config_yaml(const std::string& yaml_text);

bool operator==(const PretrainConfig& a, const PretrainConfig& b);
inline bool operator!=(const PretrainConfig& a, const PretrainConfig& b) { return !(a == b); }

}  // namespace tapelm
