#include <tapelm/baselines/text_baselines.h>

#include <gtest/gtest.h>

#include "tests/baselines/sparse_rows_util.h"

namespace tapelm {
namespace {

const std::vector<std::string> kTrain = {
    "cheap pills now, buy cheap pills",  "win money now with cheap offers", "buy now and win a prize",
    "meeting moved to noon tomorrow",    "notes from the team meeting",     "lunch with the team at noon",
    "the kernel build fails on arm",     "patch for the kernel build",      "arm build logs attached"};
const std::vector<int32_t> kTrainLabels = {0, 0, 0, 1, 1, 1, 2, 2, 2};

TEST(TextBaselines, BothLearnTheWordsThatSeparateThreeClasses) {
  const std::vector<std::string> scored = {"cheap pills, win now", "team meeting at noon", "kernel patch for arm",
                                           "zzz unseen words only qqq"};
  const TextBaselinePredictions p = train_text_baselines(pointers(kTrain), kTrainLabels, 3, pointers(scored));
  ASSERT_EQ(p.naive_bayes.size(), 4u);
  ASSERT_EQ(p.tfidf_logistic_regression.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(p.naive_bayes[i], int32_t(i)) << scored[i];
    EXPECT_EQ(p.tfidf_logistic_regression[i], int32_t(i)) << scored[i];
  }
}

TEST(TextBaselines, TheSameInputGivesTheSamePredictions) {
  const std::vector<std::string> scored = {"cheap team build", "noon offers", "arm prize meeting"};
  const TextBaselinePredictions a = train_text_baselines(pointers(kTrain), kTrainLabels, 3, pointers(scored));
  const TextBaselinePredictions b = train_text_baselines(pointers(kTrain), kTrainLabels, 3, pointers(scored));
  EXPECT_EQ(a.naive_bayes, b.naive_bayes);
  EXPECT_EQ(a.tfidf_logistic_regression, b.tfidf_logistic_regression);
}

TEST(TextBaselines, SuitedFeaturesAreCharactersForTextsOfAFewWordsAndWordsForSentences) {
  const std::vector<std::string> names = {"Anna", "Bob", "Mary Ann", "Jo", "Anne Marie Louise"};
  EXPECT_EQ(suited_ngram_features(pointers(names)), NgramFeatures::kChars);
  EXPECT_EQ(suited_ngram_features(pointers(kTrain)), NgramFeatures::kWords);
  // The median decides: three texts of four words outweigh two of one.
  const std::vector<std::string> mixed = {"a b c d", "one", "e f g h", "two", "i j k l"};
  EXPECT_EQ(suited_ngram_features(pointers(mixed)), NgramFeatures::kWords);
  const std::vector<std::string> three = {"a b c", "d e f", "one two three four five"};
  EXPECT_EQ(suited_ngram_features(pointers(three)), NgramFeatures::kChars);
}

// Why character n-grams exist here: names whose class is their last letter. Every scored name
// is unseen, so word n-grams know none of them, while the final letter and space (" a" ending
// the padded word, "a ") carry the class.
TEST(TextBaselines, CharacterNgramsLearnAClassGivenByTheLastLetterWhereWordsCannot) {
  const char* const stems[] = {"mar", "jul", "ann", "ev", "ros", "kat", "lin", "sar", "em", "ol",
                               "har", "lu", "ben", "dor", "fel", "gil", "ir", "ja", "ker", "mon"};
  std::vector<std::string> train, scored;
  std::vector<int32_t> train_labels, scored_labels;
  for (size_t i = 0; i < 20; ++i) {
    for (int32_t label = 0; label < 2; ++label) {
      const std::string name = std::string(stems[i]) + (label == 0 ? "a" : "o");
      // Half the stems train, the other half are scored: no scored name is a training name.
      (i % 2 == 0 ? train : scored).push_back(i % 4 < 2 ? name : "x" + name);
      (i % 2 == 0 ? train_labels : scored_labels).push_back(label);
    }
  }
  const auto accuracy = [&](const std::vector<int32_t>& predicted) {
    size_t right = 0;
    for (size_t i = 0; i < predicted.size(); ++i) right += predicted[i] == scored_labels[i];
    return double(right) / double(predicted.size());
  };
  TextBaselineOptions options;
  options.ngrams.features = NgramFeatures::kChars;
  const TextBaselinePredictions chars = train_text_baselines(pointers(train), train_labels, 2, pointers(scored), options);
  EXPECT_EQ(accuracy(chars.naive_bayes), 1.0);
  EXPECT_EQ(accuracy(chars.tfidf_logistic_regression), 1.0);
  options.ngrams.features = NgramFeatures::kWords;
  const TextBaselinePredictions words = train_text_baselines(pointers(train), train_labels, 2, pointers(scored), options);
  EXPECT_LE(accuracy(words.naive_bayes), 0.5);
  EXPECT_LE(accuracy(words.tfidf_logistic_regression), 0.5);
}

}  // namespace
}  // namespace tapelm
