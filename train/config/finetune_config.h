// The fine-tuning config (`tapelm finetune`): one plain struct per YAML section, reusing the
// pretraining sections (model, tokenizer, optimizer, scheduler, train, logging, checkpoint)
// and adding the labeled data, task-specific sections, evaluation with early stopping and
// decoding. Loading validates like the pretraining config (file:line:column, did-you-mean,
// `--set` overrides). Keys and their meaning are documented in configs/finetune/*.yaml and
// train/README.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <tapelm/train/config/config_schema.h>
#include <tapelm/train/config/run_config.h>

namespace tapelm {

// Renames of targets after reading, e.g. {spam-1: spam, spam-2: spam}. A wrapper type so the
// schema can read it from a YAML mapping (and `--set data.label_map={a: b}`).
struct LabelMap {
  std::map<std::string, std::string> entries;
  bool operator==(const LabelMap& other) const { return entries == other.entries; }
};
template <>
LabelMap config_value<LabelMap>(const YAML::Node& node);
void emit_config_value(YAML::Emitter& out, const LabelMap& value);

// classification.class_weights: how much each class's examples count in the training loss
// (a weighted mean, autograd/loss.h). none: all 1; auto: inverse class frequency over the
// training split (train/tasks/class_weights.h); or a mapping label -> weight, labels not named 1.
struct ClassWeights {
  enum class Kind { kNone, kAuto, kByLabel };
  Kind kind = Kind::kNone;
  std::map<std::string, double> by_label;  // kByLabel only; each finite and > 0
  bool operator==(const ClassWeights& other) const { return kind == other.kind && by_label == other.by_label; }
};
template <>
ClassWeights config_value<ClassWeights>(const YAML::Node& node);
void emit_config_value(YAML::Emitter& out, const ClassWeights& value);

// The fine-tuning tasks (the `task` key): classification | seq2seq | completion.
enum class TaskKind { kClassification, kSeq2Seq, kCompletion };
template <>
const EnumNames<TaskKind>& enum_names<TaskKind>();

struct FinetuneDataSection {
  std::string format = "jsonl";      // jsonl | csv | tsv | folders
  std::vector<std::string> train;    // files / globs, or root folders for `folders` (required)
  std::vector<std::string> val;      // empty = split train by the fractions below
  std::vector<std::string> test;     // empty = split train by the fractions below
  std::string input_field = "text";  // JSON field / CSV column of the input (or prompt, or source)
  std::string target_field = "label";  // the label, completion or target sequence
  std::string group_field;           // examples sharing this field's value stay in one split
  LabelMap label_map;                // target renames (folders: folder name -> label)
  std::vector<std::string> labels;   // when set, every (mapped) target must be one of these
  // The seeded split of `train`; sums to 1 when neither val nor test is given. A part given as
  // a file makes its fraction irrelevant and the others are taken as proportions.
  double train_fraction = 0.8;
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  int64_t split_seed = -1;           // -1 = the top-level seed
  int64_t max_len = 0;               // tokens per example after truncation; 0 = model.ctx_len
  std::string truncation = "head";   // head | tail | head_tail
  // Classification: a document is read in up to this many windows of max_len tokens, each a
  // training example with the document's label; evaluation and prediction average the
  // windows' log-probabilities. `truncation` picks the windows of a longer document. 1 = one
  // window cut to max_len by `truncation`.
  int64_t max_windows = 1;
  std::string utf8 = "error";        // error | replace | skip
  // Training micro-batches of examples of similar length (input + target bytes): less
  // padding, so faster steps, at the cost of batches less random within an epoch.
  bool group_by_length = false;
};

struct ClassificationSection {
  std::string pooling = "last";  // last | mean (`first` is refused: the backbone is causal, so it would see one token)
  bool freeze_embeddings = false;  // token and position embeddings keep their pretrained values
  int64_t freeze_layers = 0;       // the first N transformer blocks keep their pretrained values
  double head_lr_scale = 1.0;      // the head's learning rate = optimizer.lr * head_lr_scale
  bool prepend_bos = true;         // <bos> before the input text
  // TF-IDF + logistic regression and naive Bayes trained on the training split and reported
  // beside the model's test and eval --data metrics (train/tasks/classification_baselines.h):
  // auto | words | chars | none, the n-grams they count (auto: chars for texts of a few words);
  // true and false, this key's values before it had kinds, stay as auto and none.
  std::string baselines = "auto";
  ClassWeights class_weights;      // none | auto | {label: weight, ...}
};

// Encoder-decoder shape for task: seq2seq (the architecture otherwise comes from `model`).
struct Seq2SeqSection {
  int64_t n_encoder_layer = 0;  // 0 = model.n_layer
  int64_t n_decoder_layer = 0;  // 0 = model.n_layer
};

struct DecodeSection {
  int64_t beam_size = 1;        // 1 = greedy
  int64_t max_len = 64;         // most tokens generated per example
  double length_penalty = 0.0;  // GNMT length normalisation for beam search; 0 = off
};

// The fields every task shares come from RunConfig; `tokenizer` is the (source) tokenizer a
// run trains from scratch.
struct FinetuneConfig : RunConfig {
  std::string task = "classification";  // classification | seq2seq | completion
  // A pretraining checkpoint or run directory (its newest valid checkpoint) whose weights and
  // tokenizer the model starts from; empty = from scratch (a tokenizer is trained on the
  // training split). When set, the architecture comes from the checkpoint: `model` keys other
  // than dropout must be left out or agree with it.
  std::string init_from;
  TokenizerSection target_tokenizer;  // seq2seq only: the target-side tokenizer
  FinetuneDataSection data;
  ClassificationSection classification;
  Seq2SeqSection seq2seq;
  DecodeSection decode;
  // The keys the file or `--set` gave ("model.n_layer" → "ft.yaml:4:12"); not part of the
  // resolved YAML, which lists every key.
  std::map<std::string, std::string> given_keys;

  // The split seed actually used (data.split_seed, or seed when that is -1).
  uint64_t split_seed() const { return uint64_t(data.split_seed >= 0 ? data.split_seed : seed); }
  // data.max_len, or model.ctx_len when 0.
  int64_t max_len() const { return data.max_len > 0 ? data.max_len : model.ctx_len; }
};

template <>
ConfigSchema<FinetuneConfig> make_config_schema<FinetuneConfig>();

// init_from (that it exists, its architecture) is checked by resolve_init_from
// (train/checkpoint/finetune_checkpoint.h), not by loading.

}  // namespace tapelm
