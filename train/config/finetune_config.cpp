// The fine-tuning config's key tables, derived defaults and cross-key rules.
#include <tapelm/train/config/finetune_config.h>

#include <cmath>
#include <cstdio>

#include <tapelm/data/labeled_dataset.h>
#include <tapelm/data/padding.h>
#include <tapelm/nn/sequence_classifier.h>

namespace tapelm {

template <>
const EnumNames<TaskKind>& enum_names<TaskKind>() {
  static const EnumNames<TaskKind> names("task", {{TaskKind::kClassification, "classification"},
                                                  {TaskKind::kSeq2Seq, "seq2seq"},
                                                  {TaskKind::kCompletion, "completion"}});
  return names;
}

template <>
LabelMap config_value<LabelMap>(const YAML::Node& node) {
  LabelMap result;
  if (node.IsNull()) return result;
  if (!node.IsMap()) throw std::invalid_argument("expected a mapping of 'from: to' names, e.g. {spam-1: spam}");
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node from = it->first;
    const YAML::Node to = it->second;
    if (!from.IsScalar() || !to.IsScalar() || from.Scalar().empty() || to.Scalar().empty()) {
      throw std::invalid_argument("expected non-empty names as 'from: to' pairs");
    }
    if (!result.entries.emplace(from.Scalar(), to.Scalar()).second) {
      throw std::invalid_argument("'" + from.Scalar() + "' is mapped twice");
    }
  }
  return result;
}

void emit_config_value(YAML::Emitter& out, const LabelMap& value) {
  out << YAML::Flow << YAML::BeginMap;
  for (const auto& [from, to] : value.entries) {
    out << YAML::Key << YAML::DoubleQuoted << from << YAML::Value << YAML::DoubleQuoted << to;
  }
  out << YAML::EndMap;
}

template <>
ClassWeights config_value<ClassWeights>(const YAML::Node& node) {
  const std::string expected = "expected none, auto or a mapping of label: weight, e.g. {spam: 4}";
  ClassWeights result;
  if (node.IsNull()) return result;
  if (node.IsScalar()) {
    if (node.Scalar() == "none") return result;
    if (node.Scalar() == "auto") {
      result.kind = ClassWeights::Kind::kAuto;
      return result;
    }
    throw std::invalid_argument(expected + ", got '" + node.Scalar() + "'");
  }
  if (!node.IsMap()) throw std::invalid_argument(expected);
  result.kind = ClassWeights::Kind::kByLabel;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node label = it->first;
    if (!label.IsScalar() || label.Scalar().empty()) throw std::invalid_argument(expected + " (a label is empty)");
    double weight = 0;
    try {
      weight = config_to_float(it->second);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("label '" + label.Scalar() + "': " + e.what());
    }
    if (!(weight > 0)) {
      throw std::invalid_argument("label '" + label.Scalar() + "': the weight must be > 0, got " +
                                  format_number(weight));
    }
    if (!result.by_label.emplace(label.Scalar(), weight).second) {
      throw std::invalid_argument("label '" + label.Scalar() + "' is given twice");
    }
  }
  return result;
}

void emit_config_value(YAML::Emitter& out, const ClassWeights& value) {
  switch (value.kind) {
    case ClassWeights::Kind::kNone:
      out << "none";
      return;
    case ClassWeights::Kind::kAuto:
      out << "auto";
      return;
    case ClassWeights::Kind::kByLabel:
      out << YAML::Flow << YAML::BeginMap;
      for (const auto& [label, weight] : value.by_label) {
        out << YAML::Key << YAML::DoubleQuoted << label << YAML::Value;
        emit_config_value(out, weight);
      }
      out << YAML::EndMap;
      return;
  }
}

namespace {

// 6 significant digits: a sum like 0.7 + 0.1 + 0.1 reads "0.9", not "0.8999999999999999".
std::string short_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

SectionSchema<FinetuneDataSection> data_schema() {
  using S = FinetuneDataSection;
  SectionSchema<S> s;
  s.add("format", &S::format, one_of(enum_names<LabeledFormat>()))
      .add_required("train", &S::train, non_empty<std::vector<std::string>>())
      .add("val", &S::val)
      .add("test", &S::test)
      .add("input_field", &S::input_field, non_empty<std::string>())
      .add("target_field", &S::target_field, non_empty<std::string>())
      .add("group_field", &S::group_field)
      .add("label_map", &S::label_map)
      .add("labels", &S::labels)
      .add("train_fraction", &S::train_fraction, in_interval(0, 1, false, true))
      .add("val_fraction", &S::val_fraction, in_interval(0, 1, true, false))
      .add("test_fraction", &S::test_fraction, in_interval(0, 1, true, false))
      .add("split_seed", &S::split_seed, at_least(-1))
      .add("max_len", &S::max_len, at_least(0))
      .add("truncation", &S::truncation, one_of(enum_names<Truncation>()))
      .add("max_windows", &S::max_windows, at_least(1))
      .add("utf8", &S::utf8, one_of(enum_names<Utf8Policy>()))
      .add("group_by_length", &S::group_by_length);
  return s;
}

SectionSchema<ClassificationSection> classification_schema() {
  using S = ClassificationSection;
  SectionSchema<S> s;
  s.add("pooling", &S::pooling, one_of(enum_names<Pooling>()))
      .add("freeze_embeddings", &S::freeze_embeddings)
      .add("freeze_layers", &S::freeze_layers, at_least(0))
      .add("head_lr_scale", &S::head_lr_scale, above(0))
      .add("prepend_bos", &S::prepend_bos)
      .add("class_weights", &S::class_weights)
      .add("baselines", &S::baselines, one_of({"auto", "words", "chars", "none", "true", "false"}));
  return s;
}

SectionSchema<Seq2SeqSection> seq2seq_schema() {
  using S = Seq2SeqSection;
  SectionSchema<S> s;
  s.add("n_encoder_layer", &S::n_encoder_layer, at_least(0)).add("n_decoder_layer", &S::n_decoder_layer, at_least(0));
  return s;
}

SectionSchema<DecodeSection> decode_schema() {
  using S = DecodeSection;
  SectionSchema<S> s;
  s.add("beam_size", &S::beam_size, at_least(1))
      .add("max_len", &S::max_len, at_least(1))
      .add("length_penalty", &S::length_penalty, non_negative());
  return s;
}

void check_data_rules(const FinetuneConfig& c, const RuleContext& context) {
  const FinetuneDataSection& d = c.data;
  // A part given as a file makes its fraction irrelevant: the rest are then proportions of the
  // training sources. Only a split into all three parts must add up, up to decimal rounding.
  if (d.val.empty() && d.test.empty()) {
    const double sum = d.train_fraction + d.val_fraction + d.test_fraction;
    context.require(std::abs(sum - 1.0) < 1e-6, "data.train_fraction",
                    "data.train_fraction + val_fraction + test_fraction must sum to 1, got " + short_number(sum));
  }
  context.require(!d.val.empty() || d.val_fraction > 0, "data.val_fraction",
                  "must be > 0 when data.val is not given (evaluation needs validation examples)");
  context.require(!d.test.empty() || d.test_fraction > 0, "data.test_fraction",
                  "must be > 0 when data.test is not given (the final report needs test examples)");
  context.require(d.format != "folders" || c.task == "classification", "data.format",
                  "folders (folder name = label) only suits task: classification, got task: " + c.task);
  context.require(d.max_windows == 1 || c.task == "classification", "data.max_windows",
                  "only task: classification reads a document in several windows, got task: " + c.task);
  context.require(c.max_len() <= c.model.ctx_len || !c.init_from.empty(), "data.max_len",
                  "must be <= model.ctx_len (" + std::to_string(c.model.ctx_len) + "), got " +
                      std::to_string(c.data.max_len));
}

}  // namespace

template <>
ConfigSchema<FinetuneConfig> make_config_schema<FinetuneConfig>() {
  using C = FinetuneConfig;
  SectionSchema<C> top = run_top_level_schema<C>();
  top.add("task", &C::task, one_of(enum_names<TaskKind>())).add("init_from", &C::init_from);

  ConfigSchema<C> schema;
  schema.title("tapelm finetune config, resolved: every key with the value the run used.")
      .given_keys(&C::given_keys)
      .top_level(top);
  add_model_sections(schema)
      .section("target_tokenizer", &C::target_tokenizer, tokenizer_section_schema())
      .section("data", &C::data, data_schema())
      .section("classification", &C::classification, classification_schema())
      .section("seq2seq", &C::seq2seq, seq2seq_schema());
  add_training_sections(schema).section("decode", &C::decode, decode_schema());

  schema.rule([](const C& c, const RuleContext& context) {
    if (c.task == "seq2seq") check_tokenizer_rules(c.target_tokenizer, context, "target_tokenizer");
    check_data_rules(c, context);
    // The classifier's backbone is causal: its first position sees only the first token.
    context.require(c.classification.pooling != enum_name(Pooling::First), "classification.pooling",
                    "first is not available: the backbone is causal, so the first position sees only the first "
                    "token (use last or mean)");
    context.require(c.classification.freeze_layers <= c.model.n_layer || !c.init_from.empty(),
                    "classification.freeze_layers",
                    "must be <= model.n_layer (" + std::to_string(c.model.n_layer) + "), got " +
                        std::to_string(c.classification.freeze_layers));
  });
  return schema;
}

}  // namespace tapelm
