// Tests for the translation of config sections into the nn/, data/ and optim/ option structs.
#include <tapelm/train/config/builders.h>

#include <gtest/gtest.h>

#include <tapelm/optim/adam.h>

namespace tapelm {
namespace {

PretrainConfig config_with(const std::vector<std::string>& overrides) {
  return parse_config<PretrainConfig>("out_dir: runs/x\ndata: {train: a.txt}\n", "x.yaml", overrides);
}

// The logits of a 1-layer GPT built from the default config with `overrides`, for fixed ids.
std::vector<float> logits_with(const std::vector<std::string>& overrides) {
  std::vector<std::string> all = {"model.n_layer=1", "model.n_embd=16", "model.n_head=2", "model.ctx_len=8"};
  all.insert(all.end(), overrides.begin(), overrides.end());
  GPT model(gpt_config(config_with(all).model, 20, 3));
  model.eval();
  const Var logits = model.forward({1, 5, 9, 2, 7, 3}, 1, 6);
  return std::vector<float>(logits.data(), logits.data() + logits.numel());
}

TEST(Builders, ForwardPassConstantsFromTheConfigReachTheModel) {
  const GPTConfig defaults = gpt_config(config_with({}).model, 10, 0);
  const TransformerConfig built_in;
  EXPECT_EQ(defaults.norm_eps, built_in.norm_eps);
  EXPECT_EQ(defaults.rope_base, built_in.rope_base);
  EXPECT_EQ(defaults.sinusoidal_base, built_in.sinusoidal_base);
  EXPECT_EQ(defaults.gelu_approximation, built_in.gelu_approximation);
  const GPTConfig g = gpt_config(
      config_with({"model.norm_eps=0.25", "model.rope_base=500", "model.sinusoidal_base=300",
                   "model.gelu_approximation=none"})
          .model,
      10, 0);
  EXPECT_EQ(g.norm_eps, 0.25f);
  EXPECT_EQ(g.rope_base, 500.0f);
  EXPECT_EQ(g.sinusoidal_base, 300.0f);
  EXPECT_EQ(g.gelu_approximation, GeluApproximation::None);

  EXPECT_EQ(logits_with({"model.norm_eps=1e-5"}), logits_with({}));
  EXPECT_EQ(logits_with({"model.gelu_approximation=tanh"}), logits_with({}));
  EXPECT_NE(logits_with({"model.gelu_approximation=none"}), logits_with({}));
  EXPECT_NE(logits_with({"model.norm_eps=0.5"}), logits_with({}));
  EXPECT_NE(logits_with({"model.norm=rmsnorm", "model.norm_eps=0.5"}), logits_with({"model.norm=rmsnorm"}));
  EXPECT_NE(logits_with({"model.pos_encoding=rope", "model.rope_base=3"}), logits_with({"model.pos_encoding=rope"}));
  EXPECT_NE(logits_with({"model.pos_encoding=sinusoidal", "model.sinusoidal_base=3"}),
            logits_with({"model.pos_encoding=sinusoidal"}));
}

TEST(Builders, ModelSectionMapsOntoTheGptConfig) {
  const PretrainConfig c = config_with({"model.n_layer=3", "model.n_embd=96", "model.n_head=6", "model.ctx_len=64",
                                        "model.dropout=0.2", "model.ffn=swiglu", "model.ffn_hidden=200",
                                        "model.norm=rmsnorm", "model.pos_encoding=rope", "model.pre_ln=false",
                                        "model.tie_weights=false", "model.bias=false",
                                        "model.scale_embeddings=true"});
  const GPTConfig g = gpt_config(c.model, 500, 42);
  EXPECT_EQ(g.vocab_size, 500);
  EXPECT_EQ(g.n_layer, 3);
  EXPECT_EQ(g.n_embd, 96);
  EXPECT_EQ(g.n_head, 6);
  EXPECT_EQ(g.ctx_len, 64);
  EXPECT_FLOAT_EQ(g.dropout, 0.2f);
  EXPECT_EQ(g.ffn, FfnKind::SwiGLU);
  EXPECT_EQ(g.ffn_hidden, 200);
  EXPECT_EQ(g.norm, NormKind::RMSNorm);
  EXPECT_EQ(g.pos_encoding, PositionalKind::Rope);
  EXPECT_FALSE(g.pre_ln);
  EXPECT_FALSE(g.tie_weights);
  EXPECT_FALSE(g.bias);
  EXPECT_TRUE(g.scale_embeddings);
  EXPECT_EQ(g.seed, 42u);

  const GPTConfig defaults = gpt_config(config_with({"model.ffn=relu", "model.pos_encoding=sinusoidal"}).model, 10, 0);
  EXPECT_EQ(defaults.ffn, FfnKind::Relu);
  EXPECT_EQ(defaults.pos_encoding, PositionalKind::Sinusoidal);
  EXPECT_EQ(gpt_config(config_with({}).model, 10, 0).ffn, FfnKind::Gelu);
  EXPECT_EQ(gpt_config(config_with({}).model, 10, 0).pos_encoding, PositionalKind::Learned);
  EXPECT_FALSE(gpt_config(config_with({}).model, 10, 0).scale_embeddings);
}

TEST(Builders, PosEncodingNoneBuildsAGptWithoutPositions) {
  const PretrainConfig c = config_with(
      {"model.n_layer=1", "model.n_embd=16", "model.n_head=2", "model.ctx_len=8", "model.pos_encoding=none"});
  const GPT model(gpt_config(c.model, 20, 3));
  for (const auto& [name, parameter] : model.named_parameters()) {
    EXPECT_EQ(name.find("pos_emb"), std::string::npos) << name;
  }
  EXPECT_EQ(logits_with({"model.pos_encoding=none"}).size(), logits_with({}).size());
  EXPECT_NE(logits_with({"model.pos_encoding=none"}), logits_with({}));
}

TEST(Builders, DataSectionMapsOntoTheDataPipeline) {
  const PretrainConfig c = config_with({"data.train=[a.txt,b/*.txt]", "data.utf8=replace", "data.val_fraction=0.1",
                                        "tokenizer.type=unigram", "tokenizer.vocab_size=1000",
                                        "tokenizer.max_sentences=500", "data.cache_dir=/c"});
  const DataConfig d = data_config(c);
  EXPECT_EQ(d.corpus.sources, (std::vector<std::string>{"a.txt", "b/*.txt"}));
  EXPECT_EQ(d.corpus.utf8, Utf8Policy::kReplace);
  EXPECT_DOUBLE_EQ(d.shards.split.val_fraction, 0.1);
  EXPECT_EQ(d.shards.cache_dir, "/c");
  EXPECT_EQ(d.tokenizer.type, TokenizerType::kUnigram);
  EXPECT_EQ(d.tokenizer.vocab_size, 1000);
  EXPECT_EQ(d.tokenizer.max_sentences, 500u);
  EXPECT_EQ(d.tokenizer_model, "");
  EXPECT_EQ(data_config(c, "ckpt/tokenizer.model").tokenizer_model, "ckpt/tokenizer.model");

  const DataConfig separate = data_config(config_with({"data.val=v.txt"}));
  EXPECT_EQ(separate.val_sources, std::vector<std::string>{"v.txt"});
}

TEST(Builders, OptimizerAndScheduleFollowTheirSections) {
  Var w(Tensor::zeros({4, 4}), true), b(Tensor::zeros({4}), true);
  const NamedParameters params = {{"fc.weight", w}, {"fc.bias", b}};
  for (const char* name : {"adamw", "adam", "sgd"}) {
    EXPECT_EQ(make_optimizer(config_with({std::string("optimizer.name=") + name}).optimizer, params)->kind(), name);
  }
  const auto adamw = make_optimizer(config_with({"optimizer.weight_decay=0.3"}).optimizer, params);
  EXPECT_DOUBLE_EQ(adamw->groups()[0].weight_decay, 0.3) << "matrices decay";
  EXPECT_DOUBLE_EQ(adamw->groups()[1].weight_decay, 0.0) << "biases do not";

  const ScheduleConfig s = schedule_config(
      config_with({"optimizer.lr=0.01", "scheduler.min_lr=0.001", "scheduler.warmup_steps=10", "train.max_steps=100",
                   "scheduler.name=linear"}));
  EXPECT_EQ(s.kind, ScheduleKind::Linear);
  EXPECT_DOUBLE_EQ(s.lr, 0.01);
  EXPECT_DOUBLE_EQ(s.min_lr, 0.001);
  EXPECT_EQ(s.warmup_steps, 10);
  EXPECT_EQ(s.total_steps, 100);
  // An impossible schedule never gets here: loading refuses it (check_schedule_rules).
  EXPECT_THROW(config_with({"scheduler.warmup_steps=100", "train.max_steps=100"}), ConfigError);
}

TEST(Builders, SampleSectionBecomesDecodingOptions) {
  const DecodingOptions o = decoding_options(
      config_with({"sample.max_new_tokens=7", "sample.temperature=0.5", "sample.top_k=3", "sample.top_p=0.9"}).sample,
      99);
  EXPECT_EQ(o.max_new_tokens, 7);
  EXPECT_DOUBLE_EQ(o.temperature, 0.5);
  EXPECT_EQ(o.top_k, 3);
  EXPECT_DOUBLE_EQ(o.top_p, 0.9);
  EXPECT_EQ(o.seed, 99u);
}

}  // namespace
}  // namespace tapelm
