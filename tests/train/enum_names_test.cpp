// Every enumerated config key takes exactly the names of its enum's table (data/enum_names.h):
// each name loads, reaches the builder as the value of that name and is written back to the
// resolved YAML; any other name is refused with the table's names.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include <tapelm/data/padding.h>
#include <tapelm/nn/sequence_classifier.h>
#include "tests/train/finetune_fixture.h"
#include "tests/data/data_test_util.h"
#include <tapelm/train/config/builders.h>
#include <tapelm/train/config/finetune_config.h>
#include <tapelm/train/tasks/finetune_data.h>
#include <tapelm/train/config/builders.h>

namespace tapelm {
namespace {

PretrainConfig pretrain_with(const std::string& assignment) {
  return parse_config<PretrainConfig>("out_dir: runs/x\ndata: {train: a.txt}\n", "run.yaml", {assignment});
}

FinetuneConfig finetune_with(const std::string& assignment) {
  return parse_config<FinetuneConfig>("out_dir: runs/x\ndata: {train: a.jsonl}\n", "ft.yaml", {assignment});
}

// The name of what the builders make of `key: value`, and the resolved YAML of that config
// loaded back (which must give the same config).
struct Built {
  std::string name;
  std::string yaml;
  bool yaml_reloads_equal;
};

Built from_pretrain(const std::string& assignment, const std::function<std::string(const PretrainConfig&)>& build) {
  const PretrainConfig c = pretrain_with(assignment);
  const std::string yaml = to_yaml(c);
  return {build(c), yaml, parse_config<PretrainConfig>(yaml, "resolved.yaml") == c};
}

Built from_finetune(const std::string& assignment, const std::function<std::string(const FinetuneConfig&)>& build) {
  const FinetuneConfig c = finetune_with(assignment);
  const std::string yaml = to_yaml(c);
  return {build(c), yaml, parse_config<FinetuneConfig>(yaml, "resolved.yaml") == c};
}

NamedParameters one_parameter() {
  static const Var w(Tensor::zeros({2, 2}), true);
  return {{"fc.weight", w}};
}

struct EnumKey {
  std::string key;                  // "model.ffn"
  std::vector<std::string> names;   // the enum's table
  std::vector<std::string> refused;  // names of the table a cross-key rule refuses
  std::function<Built(const std::string& assignment)> build;
};

std::ostream& operator<<(std::ostream& out, const EnumKey& k) { return out << k.key; }

std::vector<EnumKey> enum_keys() {
  return {
      {"model.ffn", enum_names<FfnKind>().names(), {},
       [](const std::string& a) {
         return from_pretrain(a, [](const PretrainConfig& c) { return enum_name(gpt_config(c.model, 10, 0).ffn); });
       }},
      {"model.norm", enum_names<NormKind>().names(), {},
       [](const std::string& a) {
         return from_pretrain(a, [](const PretrainConfig& c) { return enum_name(gpt_config(c.model, 10, 0).norm); });
       }},
      {"model.pos_encoding", enum_names<PositionalKind>().names(), {},
       [](const std::string& a) {
         return from_pretrain(
             a, [](const PretrainConfig& c) { return enum_name(gpt_config(c.model, 10, 0).pos_encoding); });
       }},
      {"model.gelu_approximation", enum_names<GeluApproximation>().names(), {},
       [](const std::string& a) {
         return from_pretrain(
             a, [](const PretrainConfig& c) { return enum_name(gpt_config(c.model, 10, 0).gelu_approximation); });
       }},
      {"tokenizer.type", enum_names<TokenizerType>().names(), {},
       [](const std::string& a) {
         return from_pretrain(a, [](const PretrainConfig& c) { return enum_name(data_config(c).tokenizer.type); });
       }},
      {"data.utf8", enum_names<Utf8Policy>().names(), {},
       [](const std::string& a) {
         return from_pretrain(a, [](const PretrainConfig& c) { return enum_name(data_config(c).corpus.utf8); });
       }},
      {"optimizer.name", enum_names<OptimizerKind>().names(), {},
       [](const std::string& a) {
         return from_pretrain(
             a, [](const PretrainConfig& c) { return make_optimizer(c.optimizer, one_parameter())->kind(); });
       }},
      {"scheduler.name", enum_names<ScheduleKind>().names(), {},
       [](const std::string& a) {
         return from_pretrain(a, [](const PretrainConfig& c) { return enum_name(schedule_config(c).kind); });
       }},
      {"task", enum_names<TaskKind>().names(), {},
       [](const std::string& a) {
         return from_finetune(
             a, [](const FinetuneConfig& c) { return enum_name(config_enum<TaskKind>("task", c.task)); });
       }},
      {"data.format", enum_names<LabeledFormat>().names(), {},
       [](const std::string& a) {
         return from_finetune(
             a, [](const FinetuneConfig& c) { return enum_name(labeled_data_config(c, {"a.jsonl"}).format); });
       }},
      {"data.truncation", enum_names<Truncation>().names(), {},
       [](const std::string& a) {
         return from_finetune(a, [](const FinetuneConfig& c) {
           return enum_name(config_enum<Truncation>("data.truncation", c.data.truncation));
         });
       }},
      {"classification.pooling", enum_names<Pooling>().names(), {"first"},
       [](const std::string& a) {
         return from_finetune(a, [](const FinetuneConfig& c) {
           return enum_name(config_enum<Pooling>("classification.pooling", c.classification.pooling));
         });
       }},
      {"target_tokenizer.type", enum_names<TokenizerType>().names(), {},
       [](const std::string& a) {
         return from_finetune(
             a, [](const FinetuneConfig& c) { return enum_name(tokenizer_config(c.target_tokenizer, 0).type); });
       }},
  };
}

std::string leaf(const std::string& key) { return key.substr(key.find('.') + 1); }

bool refused(const EnumKey& k, const std::string& name) {
  return std::find(k.refused.begin(), k.refused.end(), name) != k.refused.end();
}

class EnumKeys : public ::testing::TestWithParam<EnumKey> {};

TEST_P(EnumKeys, EveryNameOfTheTableReachesTheBuilderAndTheResolvedYaml) {
  const EnumKey& k = GetParam();
  ASSERT_FALSE(k.names.empty());
  for (const std::string& name : k.names) {
    if (refused(k, name)) continue;
    const Built built = k.build(k.key + "=" + name);
    EXPECT_EQ(built.name, name) << k.key;
    EXPECT_NE(built.yaml.find(leaf(k.key) + ": \"" + name + "\""), std::string::npos) << built.yaml;
    EXPECT_TRUE(built.yaml_reloads_equal) << k.key << "=" << name;
  }
}

TEST_P(EnumKeys, AnUnknownNameIsAConfigErrorListingTheTable) {
  const EnumKey& k = GetParam();
  std::string choices;
  for (const std::string& name : k.names) choices += (choices.empty() ? "" : ", ") + name;
  const std::string assignment = k.key + "=bogus";
  testing::expect_error<ConfigError>([&] { k.build(assignment); },
                                     {"--set " + assignment + ": " + k.key + ": must be one of " + choices +
                                      ", got 'bogus'"});
}

INSTANTIATE_TEST_SUITE_P(ConfigKeys, EnumKeys, ::testing::ValuesIn(enum_keys()),
                         [](const ::testing::TestParamInfo<EnumKey>& info) {
                           std::string name = info.param.key;
                           for (char& ch : name) {
                             if (ch == '.') ch = '_';
                           }
                           return name;
                         });

TEST(EnumNames, ABuilderGivenANameThatSkippedValidationThrowsAConfigErrorListingTheNames) {
  PretrainConfig c = pretrain_with("model.n_layer=1");
  c.model.gelu_approximation = "exact";
  testing::expect_error<ConfigError>([&] { gpt_config(c.model, 10, 0); },
                                     {"model.gelu_approximation: must be one of tanh, none, got 'exact'"});
  c = pretrain_with("model.n_layer=1");
  c.optimizer.name = "lion";
  testing::expect_error<ConfigError>([&] { make_optimizer(c.optimizer, one_parameter()); },
                                     {"optimizer.name: must be one of adamw, adam, sgd, got 'lion'"});
}

TEST(EnumNames, ParsingOutsideConfigsNamesTheValueAndTheChoices) {
  testing::expect_error<std::invalid_argument>([] { parse_enum<NormKind>("batchnorm"); },
                                               {"unknown norm 'batchnorm' (expected layernorm or rmsnorm)"});
  EXPECT_EQ(parse_enum<PositionalKind>("rope"), PositionalKind::Rope);
  EXPECT_STREQ(enum_name(FfnKind::SwiGLU), "swiglu");
}

TEST(ClassificationPooling, FirstIsRefusedBecauseTheBackboneIsCausal) {
  testing::expect_error<ConfigError>([] { finetune_with("classification.pooling=first"); },
                                     {"classification.pooling: first is not available: the backbone is causal"});
}

TEST(EnumNamesCli, AnUnknownNameExitsTwoListingTheNames) {
  testing::ScratchDir scratch;
  testing::write_text(scratch / "run.yaml", "out_dir: " + (scratch / "run").string() + "\ndata: {train: a.txt}\n");
  const testing::CliOutcome outcome =
      testing::run_cli_in_process({"pretrain", (scratch / "run.yaml").string(), "--set", "model.norm=batchnorm"});
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_NE(outcome.err.find("--set model.norm=batchnorm: model.norm: must be one of layernorm, rmsnorm, got "
                             "'batchnorm'"),
            std::string::npos)
      << outcome.err;
}

}  // namespace
}  // namespace tapelm
