// classification.class_weights: reading it from YAML (none, auto, a label -> weight map),
// and resolving it against a label vocabulary and the training split.
#include <gtest/gtest.h>

#include <cmath>

#include <tapelm/train/tasks/class_weights.h>
#include <tapelm/train/config/errors.h>
#include <tapelm/train/config/finetune_config.h>

namespace tapelm {
namespace {

const char* const kMinimal = "out_dir: runs/x\ndata:\n  train: a.jsonl\n";

FinetuneConfig with_class_weights(const std::string& value) {
  return parse_config<FinetuneConfig>(std::string(kMinimal) + "classification:\n  class_weights: " + value + "\n", "ft.yaml");
}

std::string config_error(const std::string& value) {
  try {
    with_class_weights(value);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// Three "ham" and one "spam" in the training split (indices 0-3); index 4 is held out.
std::vector<LabeledExample> imbalanced_examples() {
  std::vector<LabeledExample> examples;
  for (const char* label : {"ham", "spam", "ham", "ham", "spam"}) examples.push_back({"text", label, "", "x.jsonl:1"});
  return examples;
}
const std::vector<size_t> kTrain = {0, 1, 2, 3};

TEST(ClassWeightsConfig, DefaultIsNoneAndResolvesToTheUnweightedLoss) {
  const FinetuneConfig c = parse_config<FinetuneConfig>(kMinimal, "ft.yaml");
  EXPECT_EQ(c.classification.class_weights.kind, ClassWeights::Kind::kNone);
  EXPECT_EQ(with_class_weights("none").classification.class_weights, c.classification.class_weights);
  const LabelVocab labels({"ham", "spam"});
  EXPECT_TRUE(resolve_class_weights(c.classification.class_weights, labels, imbalanced_examples(), kTrain).empty());
}

TEST(ClassWeightsConfig, ReadsAutoAndALabelToWeightMapThatRoundTrips) {
  EXPECT_EQ(with_class_weights("auto").classification.class_weights.kind, ClassWeights::Kind::kAuto);
  const FinetuneConfig c = with_class_weights("{spam: 4, ham: 0.5}");
  EXPECT_EQ(c.classification.class_weights.kind, ClassWeights::Kind::kByLabel);
  EXPECT_EQ(c.classification.class_weights.by_label, (std::map<std::string, double>{{"ham", 0.5}, {"spam", 4}}));
  EXPECT_EQ(parse_config<FinetuneConfig>(to_yaml(c), "resolved.yaml"), c);
  const FinetuneConfig overridden =
      parse_config<FinetuneConfig>(kMinimal, "ft.yaml", {"classification.class_weights={spam: 4, ham: 0.5}"});
  EXPECT_EQ(overridden.classification.class_weights, c.classification.class_weights);
  EXPECT_EQ(parse_config<FinetuneConfig>(to_yaml(with_class_weights("auto")), "resolved.yaml").classification.class_weights.kind,
            ClassWeights::Kind::kAuto);
}

TEST(ClassWeightsConfig, AWeightThatIsNotAPositiveNumberNamesTheKeyAndTheLabel) {
  for (const char* value : {"{spam: 0}", "{spam: -2}", "{spam: .nan}", "{spam: lots}"}) {
    SCOPED_TRACE(value);
    const std::string message = config_error(value);
    EXPECT_NE(message.find("ft.yaml:5:"), std::string::npos) << message;
    EXPECT_NE(message.find("classification.class_weights"), std::string::npos) << message;
    EXPECT_NE(message.find("label 'spam'"), std::string::npos) << message;
  }
}

TEST(ClassWeightsConfig, AnUnknownWordListsTheChoices) {
  const std::string message = config_error("balanced");
  EXPECT_NE(message.find("classification.class_weights"), std::string::npos) << message;
  EXPECT_NE(message.find("expected none, auto or a mapping of label: weight"), std::string::npos) << message;
}

TEST(ClassWeights, AutoIsInverseFrequencyAveragingOneOverTheTrainingExamples) {
  const LabelVocab labels({"ham", "spam"});
  const std::vector<float> weights =
      resolve_class_weights(with_class_weights("auto").classification.class_weights, labels, imbalanced_examples(),
                            kTrain);
  // N = 4, K = 2: ham 4 / (2·3), spam 4 / (2·1); (3·2/3 + 1·2) / 4 = 1.
  ASSERT_EQ(weights.size(), 2u);
  EXPECT_FLOAT_EQ(weights[0], 4.0f / 6.0f);
  EXPECT_FLOAT_EQ(weights[1], 2.0f);
  EXPECT_EQ(class_weights_line(with_class_weights("auto").classification.class_weights, labels, weights),
            "class weights (auto): ham 0.6667, spam 2");
}

TEST(ClassWeights, AMapGivesItsWeightsAndOneToLabelsItLeavesOut) {
  const LabelVocab labels({"eggs", "ham", "spam"});
  const std::vector<float> weights = resolve_class_weights(
      with_class_weights("{spam: 4}").classification.class_weights, labels, imbalanced_examples(), kTrain);
  EXPECT_EQ(weights, (std::vector<float>{1.0f, 1.0f, 4.0f}));
}

TEST(ClassWeights, ALabelOutsideTheVocabularyIsAConfigErrorNamingTheKeyAndTheLabel) {
  const LabelVocab labels({"ham", "spam"});
  try {
    resolve_class_weights(with_class_weights("{spma: 4}").classification.class_weights, labels,
                          imbalanced_examples(), kTrain);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("classification.class_weights: label 'spma'"), std::string::npos) << message;
    EXPECT_NE(message.find("did you mean 'spam'"), std::string::npos) << message;
    EXPECT_NE(message.find("ham, spam"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace tapelm
