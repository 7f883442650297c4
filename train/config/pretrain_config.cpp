// The pretraining config's own key tables, derived defaults and cross-key rules.
#include <tapelm/train/config/pretrain_config.h>

#include <filesystem>

#include <yaml-cpp/yaml.h>

#include <tapelm/data/corpus.h>
#include <tapelm/data/utf8.h>

namespace tapelm {

SectionSchema<DataSection> data_section_schema() {
  using S = DataSection;
  SectionSchema<S> s;
  s.add_required("train", &S::train, non_empty<std::vector<std::string>>())
      .add("val", &S::val)
      .add("val_fraction", &S::val_fraction, in_interval(0, 1, true, false))
      .add("cache_dir", &S::cache_dir)
      .add("utf8", &S::utf8, one_of(enum_names<Utf8Policy>()))
      .add("format", &S::format, one_of(enum_names<CorpusFormat>()))
      .add("text_field", &S::text_field, non_empty<std::string>());
  return s;
}

SectionSchema<SampleSection> sample_section_schema() {
  using S = SampleSection;
  SectionSchema<S> s;
  s.add("prompt", &S::prompt)
      .add("max_new_tokens", &S::max_new_tokens, at_least(0))
      .add("temperature", &S::temperature, non_negative())
      .add("top_k", &S::top_k, at_least(0))
      .add("top_p", &S::top_p, in_interval(0, 1, false, true));
  return s;
}

template <>
ConfigSchema<PretrainConfig> make_config_schema<PretrainConfig>() {
  using C = PretrainConfig;
  ConfigSchema<C> schema;
  schema.title("tapelm pretrain config, resolved: every key with the value the run used.")
      .top_level(run_top_level_schema<C>());
  add_model_sections(schema).section("data", &C::data, data_section_schema());
  add_training_sections(schema).section("sample", &C::sample, sample_section_schema());

  schema.resolver([](C& c) {
    // A cache beside the run directories, so runs over the same data share tokenized shards.
    if (c.data.cache_dir.empty()) {
      std::filesystem::path run = std::filesystem::path(c.out_dir).lexically_normal();
      if (!run.has_filename()) run = run.parent_path();  // "runs/x/" → "runs/x"
      c.data.cache_dir = (run.parent_path() / "cache").string();
    }
  });

  schema.rule([](const C& c, const RuleContext& context) {
    context.require(!c.data.val.empty() || c.data.val_fraction > 0, "data.val_fraction",
                    "must be > 0 when data.val is not given (validation needs held-out data)");
    int64_t tokens_per_step = 0, tokens = 0;
    context.require(!__builtin_mul_overflow(c.train.batch_size, c.model.ctx_len, &tokens_per_step) &&
                        !__builtin_mul_overflow(tokens_per_step, c.train.max_steps, &tokens),
                    "train.batch_size",
                    "x model.ctx_len x train.max_steps must fit the 64-bit count of tokens trained on, got " +
                        std::to_string(c.train.batch_size) + " x " + std::to_string(c.model.ctx_len) + " x " +
                        std::to_string(c.train.max_steps));
  });
  return schema;
}

std::string upgrade_pretrain_config_yaml(const std::string& yaml_text) {
  YAML::Node root = YAML::Load(yaml_text);
  if (!root.IsMap() || !root["eval"] || !root["eval"].IsMap() || !root["eval"]["batches"]) return yaml_text;
  const int64_t batches = root["eval"]["batches"].as<int64_t>();
  const int64_t micro = root["train"] && root["train"]["micro_batch_size"]
                            ? root["train"]["micro_batch_size"].as<int64_t>()
                            : 0;
  root["eval"].remove("batches");
  if (micro > 0) {
    root["eval"]["max_examples"] = batches * micro;
    root["eval"]["batch_size"] = micro;
  }
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

}  // namespace tapelm
