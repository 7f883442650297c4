// Tests for the pretraining config: defaults, every key reaching its field, the round trip
// through to_yaml, overrides, and the exact message of each kind of error.
#include <tapelm/train/config/pretrain_config.h>

#include <tapelm/train/config/errors.h>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "scratch_dir.h"

namespace tapelm {
namespace {

using testing::ScratchDir;
using testing::write_text;

const char* const kMinimal =
    "out_dir: runs/test\n"
    "data:\n"
    "  train: data/a.txt\n";

// Every key set to a value different from its default, each one compatible with the defaults
// of all other keys (so any single key can be swapped into the minimal config).
std::string every_key_yaml(const std::string& tokenizer_model) {
  return "out_dir: runs/every\n"
         "seed: 7\n"
         "model:\n"
         "  n_layer: 6\n"
         "  n_head: 8\n"
         "  n_embd: 256\n"
         "  ctx_len: 64\n"
         "  dropout: 0.1\n"
         "  ffn: swiglu\n"
         "  ffn_hidden: 512\n"
         "  norm: rmsnorm\n"
         "  pos_encoding: rope\n"
         "  pre_ln: false\n"
         "  tie_weights: false\n"
         "  bias: false\n"
         "  scale_embeddings: true\n"
         "  norm_eps: 1.0e-6\n"
         "  gelu_approximation: none\n"
         "  rope_base: 500000.0\n"
         "  sinusoidal_base: 2000.0\n"
         "tokenizer:\n"
         "  type: unigram\n"
         "  vocab_size: 1000\n"
         "  character_coverage: 0.99\n"
         "  byte_fallback: false\n"
         "  model: " + tokenizer_model + "\n"
         "  max_sentences: 5000\n"
         "data:\n"
         "  train: [a/*.txt, b.txt]\n"
         "  val: [v.txt]\n"
         "  val_fraction: 0.1\n"
         "  cache_dir: my_cache\n"
         "  utf8: replace\n"
         "  format: csv\n"
         "  text_field: body\n"
         "optimizer:\n"
         "  name: sgd\n"
         "  lr: 3e-4\n"
         "  beta1: 0.8\n"
         "  beta2: 0.95\n"
         "  eps: 1e-6\n"
         "  weight_decay: 0.1\n"
         "  momentum: 0.9\n"
         "scheduler:\n"
         "  name: linear\n"
         "  warmup_steps: 100\n"
         "  min_lr: 1e-4\n"
         "train:\n"
         "  max_steps: 2000\n"
         "  batch_size: 64\n"
         "  micro_batch_size: 16\n"
         "  grad_clip: 0.5\n"
         "  threads: 2\n"
         "  gemm: eigen\n"
         "  precision: bf16\n"
         "  max_bad_steps: 3\n"
         "  label_smoothing: 0.1\n"
         "  ema_decay: 0.99\n"
         "  memory_check: false\n"
         "eval:\n"
         "  interval: 50\n"
         "  metric: ppl\n"
         "  patience: 3\n"
         "  max_examples: 40\n"
         "  batch_size: 8\n"
         "logging:\n"
         "  interval: 5\n"
         "  tensorboard: true\n"
         "checkpoint:\n"
         "  interval: 250\n"
         "  keep_last: 4\n"
         "  keep_best: false\n"
         "  average_last: 3\n"
         "sample:\n"
         "  prompt: \"Call me\"\n"
         "  max_new_tokens: 40\n"
         "  temperature: 0.7\n"
         "  top_k: 20\n"
         "  top_p: 0.9\n";
}

// The ConfigError message `yaml` (named run.yaml) plus `overrides` produce, or "" if it loads.
std::string load_error(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config<PretrainConfig>(yaml, "run.yaml", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigError, IsCaughtAsATapelmErrorAndAsAnInputError) {
  const auto load = [] {
    parse_config<PretrainConfig>("out_dir: runs/x\ndata: {train: a.txt}\nmodel: {n_embd: -1}\n", "x.yaml");
  };
  try {
    load();
    ADD_FAILURE() << "n_embd: -1 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.n_embd"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load(), InputError);
}

TEST(Config, ResolvedConfigSavesEveryConstantOfTheForwardPass) {
  const PretrainConfig c = parse_config<PretrainConfig>("out_dir: runs/x\ndata: {train: a.txt}\n", "x.yaml");
  const YAML::Node model = YAML::Load(to_yaml(c))["model"];
  EXPECT_EQ(model["norm_eps"].as<double>(), 1e-5);
  EXPECT_EQ(model["gelu_approximation"].as<std::string>(), "tanh");
  EXPECT_EQ(model["rope_base"].as<double>(), 10000.0);
  EXPECT_EQ(model["sinusoidal_base"].as<double>(), 10000.0);
  // A config.yaml written before these keys existed reads back with the same values.
  const PretrainConfig old = parse_config<PretrainConfig>("out_dir: runs/x\ndata: {train: a.txt}\nmodel: {n_embd: 64}\n",
                                                   "old.yaml");
  EXPECT_EQ(old.model.norm_eps, 1e-5);
  EXPECT_EQ(old.model.gelu_approximation, "tanh");
  EXPECT_EQ(old.model.rope_base, 10000.0);
  EXPECT_EQ(old.model.sinusoidal_base, 10000.0);
  const PretrainConfig changed = parse_config<PretrainConfig>(to_yaml(c), "config.yaml", {"model.norm_eps=1e-6"});
  EXPECT_EQ(parse_config<PretrainConfig>(to_yaml(changed), "config.yaml").model.norm_eps, 1e-6);
}

TEST(PretrainConfig, MinimalFileGetsStructDefaults) {
  const PretrainConfig c = parse_config<PretrainConfig>(kMinimal, "run.yaml");
  EXPECT_EQ(c.out_dir, "runs/test");
  EXPECT_EQ(c.data.train, std::vector<std::string>{"data/a.txt"});
  const PretrainConfig defaults;
  EXPECT_EQ(c.seed, 1337);
  EXPECT_EQ(c.seed, defaults.seed);
  EXPECT_EQ(c.model.n_layer, defaults.model.n_layer);
  EXPECT_EQ(c.model.ffn, "gelu");
  EXPECT_TRUE(c.model.pre_ln);
  EXPECT_TRUE(c.model.tie_weights);
  EXPECT_TRUE(c.model.bias);
  EXPECT_EQ(c.optimizer.name, "adamw");
  EXPECT_DOUBLE_EQ(c.data.val_fraction, 0.05);
  EXPECT_EQ(c.train.max_bad_steps, 5);
  EXPECT_EQ(c.train.label_smoothing, 0.0);
  EXPECT_EQ(c.train.ema_decay, 0.0);
  EXPECT_FALSE(c.model.scale_embeddings);
}

TEST(PretrainConfig, DerivedDefaultsAreResolved) {
  const PretrainConfig c = parse_config<PretrainConfig>(kMinimal, "run.yaml");
  EXPECT_EQ(c.data.cache_dir, "runs/cache");               // beside the run directory
  EXPECT_EQ(c.train.micro_batch_size, c.train.batch_size);  // no accumulation by default
  EXPECT_EQ(c.train.grad_accum_steps(), 1);
  EXPECT_EQ(parse_config<PretrainConfig>(kMinimal, "run.yaml", {"out_dir=runs/x/"}).data.cache_dir, "runs/cache");
  EXPECT_EQ(parse_config<PretrainConfig>(kMinimal, "run.yaml", {"out_dir=solo"}).data.cache_dir, "cache");
}

TEST(PretrainConfig, EveryKeyIsReadIntoItsField) {
  ScratchDir dir;
  const std::string tok = (dir / "tok.model").string();
  write_text(tok, "x");
  const PretrainConfig c = parse_config<PretrainConfig>(every_key_yaml(tok), "every.yaml");
  EXPECT_EQ(c.out_dir, "runs/every");
  EXPECT_EQ(c.seed, 7);
  EXPECT_EQ(c.model.n_layer, 6);
  EXPECT_EQ(c.model.n_head, 8);
  EXPECT_EQ(c.model.n_embd, 256);
  EXPECT_EQ(c.model.ctx_len, 64);
  EXPECT_DOUBLE_EQ(c.model.dropout, 0.1);
  EXPECT_EQ(c.model.ffn, "swiglu");
  EXPECT_EQ(c.model.ffn_hidden, 512);
  EXPECT_EQ(c.model.norm, "rmsnorm");
  EXPECT_EQ(c.model.pos_encoding, "rope");
  EXPECT_FALSE(c.model.pre_ln);
  EXPECT_FALSE(c.model.tie_weights);
  EXPECT_FALSE(c.model.bias);
  EXPECT_TRUE(c.model.scale_embeddings);
  EXPECT_EQ(c.model.norm_eps, 1e-6);
  EXPECT_EQ(c.model.gelu_approximation, "none");
  EXPECT_EQ(c.model.rope_base, 500000.0);
  EXPECT_EQ(c.model.sinusoidal_base, 2000.0);
  EXPECT_EQ(c.tokenizer.type, "unigram");
  EXPECT_EQ(c.tokenizer.vocab_size, 1000);
  EXPECT_DOUBLE_EQ(c.tokenizer.character_coverage, 0.99);
  EXPECT_FALSE(c.tokenizer.byte_fallback);
  EXPECT_EQ(c.tokenizer.model, tok);
  EXPECT_EQ(c.tokenizer.max_sentences, 5000);
  EXPECT_EQ(c.data.train, (std::vector<std::string>{"a/*.txt", "b.txt"}));
  EXPECT_EQ(c.data.val, std::vector<std::string>{"v.txt"});
  EXPECT_DOUBLE_EQ(c.data.val_fraction, 0.1);
  EXPECT_EQ(c.data.cache_dir, "my_cache");
  EXPECT_EQ(c.data.utf8, "replace");
  EXPECT_EQ(c.optimizer.name, "sgd");
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 3e-4);
  EXPECT_DOUBLE_EQ(c.optimizer.beta1, 0.8);
  EXPECT_DOUBLE_EQ(c.optimizer.beta2, 0.95);
  EXPECT_DOUBLE_EQ(c.optimizer.eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.optimizer.weight_decay, 0.1);
  EXPECT_DOUBLE_EQ(c.optimizer.momentum, 0.9);
  EXPECT_EQ(c.scheduler.name, "linear");
  EXPECT_EQ(c.scheduler.warmup_steps, 100);
  EXPECT_DOUBLE_EQ(c.scheduler.min_lr, 1e-4);
  EXPECT_EQ(c.train.max_steps, 2000);
  EXPECT_EQ(c.train.batch_size, 64);
  EXPECT_EQ(c.train.micro_batch_size, 16);
  EXPECT_EQ(c.train.grad_accum_steps(), 4);
  EXPECT_DOUBLE_EQ(c.train.grad_clip, 0.5);
  EXPECT_EQ(c.train.threads, 2);
  EXPECT_EQ(c.train.max_bad_steps, 3);
  EXPECT_DOUBLE_EQ(c.train.label_smoothing, 0.1);
  EXPECT_DOUBLE_EQ(c.train.ema_decay, 0.99);
  EXPECT_FALSE(c.train.memory_check);
  EXPECT_EQ(c.eval.interval, 50);
  EXPECT_EQ(c.eval.metric, "ppl");
  EXPECT_EQ(c.eval.patience, 3);
  EXPECT_EQ(c.eval.max_examples, 40);
  EXPECT_EQ(c.eval.batch_size, 8);
  EXPECT_EQ(c.logging.interval, 5);
  EXPECT_TRUE(c.logging.tensorboard);
  EXPECT_EQ(c.checkpoint.interval, 250);
  EXPECT_EQ(c.checkpoint.keep_last, 4);
  EXPECT_EQ(c.checkpoint.average_last, 3);
  EXPECT_EQ(c.sample.prompt, "Call me");
  EXPECT_EQ(c.sample.max_new_tokens, 40);
  EXPECT_DOUBLE_EQ(c.sample.temperature, 0.7);
  EXPECT_EQ(c.sample.top_k, 20);
  EXPECT_DOUBLE_EQ(c.sample.top_p, 0.9);
}

// Swapping any single key's value into the minimal config must change the struct: every key
// is bound to a field, and operator== (used by the round-trip test) sees every field.
TEST(PretrainConfig, EveryKeyAffectsEquality) {
  ScratchDir dir;
  write_text(dir / "tok.model", "x");
  const YAML::Node every = YAML::Load(every_key_yaml((dir / "tok.model").string()));
  const PretrainConfig base = parse_config<PretrainConfig>(kMinimal, "run.yaml");
  const ConfigLayout layout = config_schema<PretrainConfig>().layout();
  size_t keys_checked = 0;
  auto check = [&](const std::string& section, const std::string& key) {
    YAML::Node changed = YAML::Load(kMinimal);
    if (section.empty()) {
      changed[key] = every[key];
    } else {
      changed[section][key] = every[section][key];
    }
    YAML::Emitter out;
    out << changed;
    EXPECT_NE(parse_config<PretrainConfig>(out.c_str(), "changed.yaml"), base) << qualified_key(section, key);
    ++keys_checked;
  };
  for (const std::string& key : layout.top_keys) check("", key);
  for (const auto& [section, keys] : layout.sections) {
    for (const std::string& key : keys) check(section, key);
  }
  EXPECT_EQ(keys_checked, 2u + 17 + 6 + 7 + 7 + 3 + 11 + 5 + 2 + 4 + 5);
}

TEST(PretrainConfig, AnEarlierCheckpointsEvalBatchesBecomesMaxExamplesAndBatchSize) {
  const std::string earlier = std::string(kMinimal) + "train: {batch_size: 16, micro_batch_size: 8}\neval: {interval: 7, batches: 5}\n";
  const PretrainConfig c = parse_config<PretrainConfig>(upgrade_pretrain_config_yaml(earlier), "old/config.yaml");
  EXPECT_EQ(c.eval.interval, 7);
  EXPECT_EQ(c.eval.max_examples, 40);
  EXPECT_EQ(c.eval.batch_size, 8);
  EXPECT_EQ(upgrade_pretrain_config_yaml(to_yaml(c)), to_yaml(c)) << "today's keys are left alone";
  try {
    parse_config<PretrainConfig>(earlier, "mine.yaml");
    ADD_FAILURE() << "a config file with eval.batches was read";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'batches' in section 'eval'"), std::string::npos) << e.what();
  }
}

TEST(PretrainConfig, ToYamlRoundTripsExactly) {
  ScratchDir dir;
  write_text(dir / "tok.model", "x");
  for (const std::string& text : {std::string(kMinimal), every_key_yaml((dir / "tok.model").string())}) {
    const PretrainConfig original = parse_config<PretrainConfig>(text, "a.yaml");
    const std::string written = to_yaml(original);
    const PretrainConfig reloaded = parse_config<PretrainConfig>(written, "resolved.yaml");
    EXPECT_EQ(reloaded, original) << written;
    EXPECT_EQ(to_yaml(reloaded), written);
  }
}

TEST(PretrainConfig, ToYamlWritesEveryKey) {
  const YAML::Node written = YAML::Load(to_yaml(parse_config<PretrainConfig>(kMinimal, "run.yaml")));
  const ConfigLayout layout = config_schema<PretrainConfig>().layout();
  for (const std::string& key : layout.top_keys) EXPECT_TRUE(written[key].IsDefined()) << key;
  for (const auto& [section, keys] : layout.sections) {
    ASSERT_TRUE(written[section].IsMap()) << section;
    EXPECT_EQ(written[section].size(), keys.size()) << section;
    for (const std::string& key : keys) EXPECT_TRUE(written[section][key].IsDefined()) << section << "." << key;
  }
}

TEST(PretrainConfig, ToYamlKeepsAwkwardStringsAndFloatsExact) {
  PretrainConfig c = parse_config<PretrainConfig>(kMinimal, "run.yaml");
  c.sample.prompt = "yes: \"quoted\" # not a comment\n\tnext line";
  c.out_dir = "123";
  c.optimizer.lr = 1.0 / 3.0;
  c.optimizer.eps = 1e-300;
  c.scheduler.min_lr = 0.1 + 0.2;
  const PretrainConfig reloaded = parse_config<PretrainConfig>(to_yaml(c), "resolved.yaml");
  EXPECT_EQ(reloaded.sample.prompt, c.sample.prompt);
  EXPECT_EQ(reloaded.out_dir, "123");
  EXPECT_EQ(reloaded.optimizer.lr, c.optimizer.lr);  // bitwise, not approximately
  EXPECT_EQ(reloaded.optimizer.eps, c.optimizer.eps);
  EXPECT_EQ(reloaded.scheduler.min_lr, c.scheduler.min_lr);
}

TEST(PretrainConfig, LoadsFromFileAndNamesItInErrors) {
  ScratchDir dir;
  const std::string path = (dir / "run.yaml").string();
  write_text(path, std::string(kMinimal) + "model:\n  n_embed: 64\n");
  try {
    load_config<PretrainConfig>(path);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":5:3: unknown key 'n_embed' in section 'model' (did you mean 'n_embd'?)");
  }
  write_text(path, kMinimal);
  EXPECT_EQ(load_config<PretrainConfig>(path).out_dir, "runs/test");
}

TEST(PretrainConfig, MissingFileIsAnError) {
  ScratchDir dir;
  const std::string path = (dir / "nope.yaml").string();
  try {
    load_config<PretrainConfig>(path);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": config file not found");
  }
  try {
    load_config<PretrainConfig>(dir.path().string());
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), dir.path().string() + ": is a directory, expected a YAML config file");
  }
}

TEST(PretrainConfig, MalformedYamlNamesLineAndColumn) {
  EXPECT_EQ(load_error("out_dir: x\nmodel:\n  n_layer: [1, 2\n"),
            "run.yaml:4:1: malformed YAML: end of sequence flow not found");
  EXPECT_EQ(load_error("out_dir: x\n  bad indent: 1\n"),
            "run.yaml:2:13: malformed YAML: illegal map value");
  EXPECT_EQ(load_error("- a\n- b\n"), "run.yaml:1:1: expected a mapping of sections at the top level, got a list");
}

TEST(PretrainConfig, UnknownKeysGetSuggestions) {
  EXPECT_EQ(load_error(std::string(kMinimal) + "model:\n  n_embed: 64\n"),
            "run.yaml:5:3: unknown key 'n_embed' in section 'model' (did you mean 'n_embd'?)");
  EXPECT_EQ(load_error(std::string(kMinimal) + "modle:\n  n_layer: 2\n"),
            "run.yaml:4:1: unknown top-level key 'modle' (did you mean 'model'?)");
  // A section key written at the top level points to its section.
  EXPECT_EQ(load_error(std::string(kMinimal) + "lr: 0.1\n"),
            "run.yaml:4:1: unknown top-level key 'lr' (did you mean 'optimizer.lr'?)");
  // Nothing close: list what is valid.
  EXPECT_EQ(load_error(std::string(kMinimal) + "scheduler:\n  shape: x\n"),
            "run.yaml:5:3: unknown key 'shape' in section 'scheduler' (expected one of: name, warmup_steps, min_lr)");
}

TEST(PretrainConfig, WrongTypesAreNamed) {
  EXPECT_EQ(load_error(std::string(kMinimal) + "model:\n  n_layer: abc\n"),
            "run.yaml:5:12: model.n_layer: expected an integer, got 'abc'");
  EXPECT_EQ(load_error(std::string(kMinimal) + "model:\n  n_layer: 2.5\n"),
            "run.yaml:5:12: model.n_layer: expected an integer, got '2.5'");
  EXPECT_EQ(load_error(std::string(kMinimal) + "optimizer:\n  lr: fast\n"),
            "run.yaml:5:7: optimizer.lr: expected a number, got 'fast'");
  EXPECT_EQ(load_error(std::string(kMinimal) + "optimizer:\n  lr: .nan\n"),
            "run.yaml:5:7: optimizer.lr: expected a number, got '.nan'");
  EXPECT_EQ(load_error(std::string(kMinimal) + "model:\n  bias: maybe\n"),
            "run.yaml:5:9: model.bias: expected true or false, got 'maybe'");
  EXPECT_EQ(load_error(std::string(kMinimal) + "model:\n  n_layer: [1]\n"),
            "run.yaml:5:12: model.n_layer: expected an integer, got a list");
  EXPECT_EQ(load_error(std::string(kMinimal) + "model:\n  n_layer:\n"),
            "run.yaml:5:3: model.n_layer: expected an integer, got nothing (an empty value)");
  EXPECT_EQ(load_error("out_dir: x\ndata:\n  train: {a: 1}\n"),
            "run.yaml:3:10: data.train: expected a string or a list of strings, got a mapping");
  EXPECT_EQ(load_error("out_dir: [x]\ndata:\n  train: a\n"), "run.yaml:1:10: out_dir: expected a string, got a list");
  EXPECT_EQ(load_error(std::string(kMinimal) + "model: 3\n"),
            "run.yaml:4:8: section 'model' must be a mapping of keys, got '3'");
}

TEST(PretrainConfig, OutOfRangeValuesAreNamed) {
  const std::string m = kMinimal;
  EXPECT_EQ(load_error(m + "model:\n  dropout: 1\n"), "run.yaml:5:12: model.dropout: must be in [0, 1), got 1");
  EXPECT_EQ(load_error(m + "model:\n  n_layer: 0\n"), "run.yaml:5:12: model.n_layer: must be >= 1, got 0");
  EXPECT_EQ(load_error(m + "train:\n  label_smoothing: 1\n"),
            "run.yaml:5:20: train.label_smoothing: must be in [0, 1), got 1");
  EXPECT_EQ(load_error(m + "train:\n  ema_decay: 1.0\n"), "run.yaml:5:14: train.ema_decay: must be in [0, 1), got 1");
  EXPECT_EQ(load_error(m + "train:\n  ema_decay: -0.1\n"),
            "run.yaml:5:14: train.ema_decay: must be in [0, 1), got -0.1");
  EXPECT_EQ(load_error(m + "optimizer:\n  lr: 0\n"), "run.yaml:5:7: optimizer.lr: must be > 0, got 0");
  EXPECT_EQ(load_error(m + "model:\n  ffn: gleu\n"),
            "run.yaml:5:8: model.ffn: must be one of gelu, relu, swiglu, got 'gleu' (did you mean 'gelu'?)");
  EXPECT_EQ(load_error(m + "sample:\n  top_p: 0\n"), "run.yaml:5:10: sample.top_p: must be in (0, 1], got 0");
  EXPECT_EQ(load_error("out_dir: x\ndata:\n  train: []\n"), "run.yaml:3:10: data.train: must not be empty");
  EXPECT_EQ(load_error("out_dir: \"\"\ndata:\n  train: a\n"), "run.yaml:1:10: out_dir: must not be empty");
}

TEST(PretrainConfig, CrossKeyRulesPointAtTheKey) {
  const std::string m = kMinimal;
  EXPECT_EQ(load_error(m + "model:\n  n_embd: 128\n  n_head: 6\n"),
            "run.yaml:6:11: model.n_head: must divide model.n_embd (128), got 6");
  // The offending key was defaulted: point at the file.
  EXPECT_EQ(load_error(m + "model:\n  n_embd: 130\n"), "run.yaml: model.n_head: must divide model.n_embd (130), got 4");
  EXPECT_EQ(load_error(m + "model:\n  n_embd: 12\n  n_head: 4\n  pos_encoding: rope\n"),
            "run.yaml:7:17: model.pos_encoding: rope needs an even head size (n_embd / n_head), got 3");
  EXPECT_EQ(load_error(m + "train:\n  batch_size: 32\n  micro_batch_size: 12\n"),
            "run.yaml:6:21: train.micro_batch_size: must divide train.batch_size (32), got 12");
  EXPECT_EQ(load_error(m + "train:\n  batch_size: 8\n  micro_batch_size: 16\n"),
            "run.yaml:6:21: train.micro_batch_size: must be <= train.batch_size (8), got 16");
  EXPECT_EQ(load_error(m + "scheduler:\n  min_lr: 0.01\n"),
            "run.yaml:5:11: scheduler.min_lr: must be <= optimizer.lr (0.001), got 0.01");
  EXPECT_EQ(load_error(m + "tokenizer:\n  vocab_size: 200\n"),
            "run.yaml:5:15: tokenizer.vocab_size: must be > 259 with byte_fallback (256 byte pieces + 3 special "
            "tokens), got 200");
  EXPECT_EQ(load_error(m + "tokenizer:\n  model: /nonexistent/tok.model\n"),
            "run.yaml:5:10: tokenizer.model: tokenizer model file '/nonexistent/tok.model' not found");
  EXPECT_EQ(load_error(m + "  val_fraction: 0\n"),
            "run.yaml:4:17: data.val_fraction: must be > 0 when data.val is not given (validation needs held-out data)");
  EXPECT_EQ(load_error(m + "scheduler:\n  warmup_steps: 5000\n  name: constant\n"),
            "run.yaml:5:17: scheduler.warmup_steps: must be <= train.max_steps (1000), got 5000 (set "
            "scheduler.warmup_steps to at most 1000, e.g. --set scheduler.warmup_steps=100, or train.max_steps to at "
            "least 5000)");
}

TEST(PretrainConfig, DecayAfterAWarmupAsLongAsTheRunIsRefusedAtValidation) {
  const std::string m = kMinimal;
  EXPECT_EQ(load_error(m + "scheduler:\n  warmup_steps: 1000\n"),
            "run.yaml:5:17: scheduler.warmup_steps: must be < train.max_steps (1000) for scheduler.name: cosine, got "
            "1000 (the decay needs steps after the warmup: set scheduler.warmup_steps to at most 999, e.g. --set "
            "scheduler.warmup_steps=100, or train.max_steps to at least 1001, or use scheduler.name: constant)");
  EXPECT_EQ(load_error(m, {"scheduler.name=linear", "scheduler.warmup_steps=1000"}).rfind(
                "--set scheduler.warmup_steps=1000: scheduler.warmup_steps: must be < train.max_steps", 0),
            0u);
  EXPECT_EQ(load_error(m + "scheduler:\n  warmup_steps: 999\n"), "");
  EXPECT_EQ(load_error(m + "scheduler:\n  warmup_steps: 1000\n  name: constant\n"), "")
      << "a constant schedule has no decay to make room for";
}

TEST(PretrainConfig, MissingRequiredKeys) {
  EXPECT_EQ(load_error("data:\n  train: a\n"),
            "run.yaml: missing required key 'out_dir' (add it to the file or pass --set out_dir=...)");
  EXPECT_EQ(load_error("out_dir: x\n"),
            "run.yaml: missing required key 'data.train' (add it to the file or pass --set data.train=...)");
  EXPECT_EQ(load_error(""), "run.yaml: missing required key 'out_dir' (add it to the file or pass --set out_dir=...)");
}

TEST(PretrainConfig, DuplicateKeysAreRejected) {
  EXPECT_EQ(load_error(std::string(kMinimal) + "optimizer:\n  lr: 0.1\n  lr: 0.2\n"),
            "run.yaml:6:3: duplicate key 'optimizer.lr' (first given on line 5)");
  EXPECT_EQ(load_error(std::string(kMinimal) + "data:\n  utf8: skip\n"),
            "run.yaml:4:1: duplicate section 'data' (first given on line 2)");
}

TEST(PretrainConfig, OverridesApplyBeforeValidation) {
  const PretrainConfig c = parse_config<PretrainConfig>(
      std::string(kMinimal) + "model:\n  n_head: 6\n",  // invalid alone: 6 does not divide 128
      "run.yaml",
      {"model.n_embd=192", "optimizer.lr=3e-4", "model.bias=false", "data.train=[x.txt, y/*.txt]", "seed=9",
       "sample.prompt=Call me Ishmael", "optimizer.lr=5e-4"});
  EXPECT_EQ(c.model.n_embd, 192);
  EXPECT_EQ(c.model.n_head, 6);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 5e-4);  // the later override wins
  EXPECT_FALSE(c.model.bias);
  EXPECT_EQ(c.data.train, (std::vector<std::string>{"x.txt", "y/*.txt"}));
  EXPECT_EQ(c.seed, 9);
  EXPECT_EQ(c.sample.prompt, "Call me Ishmael");
  // A glob starting with '*' would be a YAML alias; overrides take plain text literally.
  EXPECT_EQ(parse_config<PretrainConfig>(kMinimal, "run.yaml", {"data.train=*.txt"}).data.train,
            std::vector<std::string>{"*.txt"});
  EXPECT_EQ(parse_config<PretrainConfig>(kMinimal, "run.yaml", {"tokenizer.model="}).tokenizer.model, "");
}

TEST(PretrainConfig, BadOverridesNameTheOverride) {
  EXPECT_EQ(load_error(kMinimal, {"optimizer.lrr=3e-4"}),
            "--set optimizer.lrr=3e-4: unknown key 'lrr' in section 'optimizer' (did you mean 'lr'?)");
  EXPECT_EQ(load_error(kMinimal, {"optimzer.lr=3e-4"}),
            "--set optimzer.lr=3e-4: unknown section 'optimzer' (did you mean 'optimizer'?)");
  EXPECT_EQ(load_error(kMinimal, {"model.n_layer=abc"}),
            "--set model.n_layer=abc: model.n_layer: expected an integer, got 'abc'");
  EXPECT_EQ(load_error(kMinimal, {"model.n_layer"}),
            "--set model.n_layer: expected section.key=value (e.g. --set optimizer.lr=3e-4)");
  EXPECT_EQ(load_error(kMinimal, {"=3"}), "--set =3: expected section.key=value (e.g. --set optimizer.lr=3e-4)");
  EXPECT_EQ(load_error(kMinimal, {"model=3"}), "--set model=3: 'model' is a section; use --set model.<key>=value");
  EXPECT_EQ(load_error(kMinimal, {"lr=3"}), "--set lr=3: unknown top-level key 'lr' (did you mean 'optimizer.lr'?)");
  EXPECT_EQ(load_error(kMinimal, {"data.train=[a, b"}),
            "--set data.train=[a, b: malformed value: end of sequence flow not found");
  EXPECT_EQ(load_error(kMinimal, {"model.n_head=5"}), "--set model.n_head=5: model.n_head: must divide model.n_embd (128), got 5");
}

TEST(PretrainConfig, ErrorsAreInputErrors) {
  // The command line maps InputError (and so ConfigError) to exit code 2.
  EXPECT_THROW(parse_config<PretrainConfig>("out_dir: [", "run.yaml"), InputError);
}

TEST(PretrainConfig, ShippedMobyDickConfigIsValid) {
  const PretrainConfig c = load_config<PretrainConfig>(std::string(TAPELM_SOURCE_DIR) + "/configs/pretrain/mobydick.yaml");
  EXPECT_EQ(c.out_dir, "runs/mobydick");
  EXPECT_EQ(c.data.train, std::vector<std::string>{"data/raw/moby-dick/moby-dick.txt"});
  EXPECT_EQ(c.tokenizer.type, "bpe");
  EXPECT_EQ(c.tokenizer.vocab_size, 4096);
  EXPECT_EQ(c.model.ctx_len, 128);
  EXPECT_EQ(c.optimizer.name, "adamw");
  EXPECT_EQ(c.scheduler.name, "cosine");
  EXPECT_GT(c.scheduler.warmup_steps, 0);
}

TEST(ConfigValues, FloatsAreFormattedShortestAndExact) {
  EXPECT_EQ(format_float(0.001), "0.001");
  EXPECT_EQ(format_float(1.0), "1.0");
  EXPECT_EQ(format_float(-2.0), "-2.0");
  EXPECT_EQ(format_float(3e-4), "0.0003");
  EXPECT_EQ(format_float(1e-8), "1e-08");
  EXPECT_EQ(format_number(1.0), "1");  // messages echo values as the user would write them
  for (double v : {0.1, 1.0 / 3.0, 0.1 + 0.2, 6.02214076e23, 5e-324, 1.7976931348623157e308}) {
    EXPECT_EQ(std::strtod(format_float(v).c_str(), nullptr), v) << format_float(v);
  }
}

TEST(ConfigValues, BooleansAcceptYamlSpellings) {
  for (const char* yes : {"true", "True", "yes", "on"}) EXPECT_TRUE(config_to_bool(YAML::Node(yes))) << yes;
  for (const char* no : {"false", "FALSE", "no", "off"}) EXPECT_FALSE(config_to_bool(YAML::Node(no))) << no;
  EXPECT_THROW(config_to_bool(YAML::Node("1")), std::invalid_argument);
}

TEST(ConfigValues, IntegersRejectOverflowAndTrailingText) {
  EXPECT_EQ(config_to_int(YAML::Node("-12")), -12);
  EXPECT_THROW(config_to_int(YAML::Node("12abc")), std::invalid_argument);
  try {
    config_to_int(YAML::Node("99999999999999999999"));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "integer '99999999999999999999' is out of range");
  }
}

}  // namespace
}  // namespace tapelm
