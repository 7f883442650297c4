#include <tapelm/baselines/ngram_vocabulary.h>

#include <gtest/gtest.h>

#include "tests/baselines/sparse_rows_util.h"

namespace tapelm {
namespace {

TEST(Words, LowercasesRunsOfWordCharactersAndDropsSingleCharacters) {
  EXPECT_EQ(words("Hello, WORLD! a snake_case x 42 caf\xC3\xA9."),
            (std::vector<std::string>{"hello", "world", "snake_case", "42", "caf\xC3\xA9"}));
  EXPECT_TRUE(words(" ,.!? a b ").empty());
}

TEST(NgramVocabulary, HoldsUnigramsAndBigramsInByteOrder) {
  const std::vector<std::string> texts = {"red apple", "Red apple pie"};
  NgramOptions options;
  options.min_document_count = 1;
  const NgramVocabulary vocabulary = NgramVocabulary::build(pointers(texts), options);
  ASSERT_EQ(vocabulary.size(), 5);
  EXPECT_EQ(vocabulary.ngram(0), "apple");
  EXPECT_EQ(vocabulary.ngram(1), "apple pie");
  EXPECT_EQ(vocabulary.ngram(2), "pie");
  EXPECT_EQ(vocabulary.ngram(3), "red");
  EXPECT_EQ(vocabulary.ngram(4), "red apple");
}

TEST(NgramVocabulary, LeavesOutNgramsInTooFewTexts) {
  const std::vector<std::string> texts = {"red apple red apple", "red pear"};
  const NgramVocabulary vocabulary = NgramVocabulary::build(pointers(texts));  // min_document_count 2
  ASSERT_EQ(vocabulary.size(), 1);  // "apple" twice, but in one text only
  EXPECT_EQ(vocabulary.ngram(0), "red");
}

TEST(NgramVocabulary, KeepsTheMostFrequentNgramsUpToTheCap) {
  const std::vector<std::string> texts = {"aa aa aa bb bb cc dd", "aa bb cc dd"};
  NgramOptions options;
  options.bigrams = false;
  options.max_features = 3;
  const NgramVocabulary vocabulary = NgramVocabulary::build(pointers(texts), options);
  ASSERT_EQ(vocabulary.size(), 3);  // aa (4), bb (3), then cc before dd (2 each, byte order)
  EXPECT_EQ(vocabulary.id("aa"), 0);
  EXPECT_EQ(vocabulary.id("bb"), 1);
  EXPECT_EQ(vocabulary.id("cc"), 2);
  EXPECT_EQ(vocabulary.id("dd"), -1);
}

TEST(NgramVocabulary, CountsNgramsAndIgnoresUnseenWords) {
  const std::vector<std::string> train = {"spam spam eggs", "spam eggs"};
  const NgramVocabulary vocabulary = NgramVocabulary::build(pointers(train));
  const std::vector<std::string> scored = {"Spam, spam, SPAM and eggs!", "nothing known here"};
  const SparseRows counts = vocabulary.counts(pointers(scored));
  ASSERT_EQ(counts.rows(), 2);
  ASSERT_EQ(counts.cols(), 3);  // eggs, spam, spam eggs
  EXPECT_EQ(counts.coeff(0, vocabulary.id("spam")), 3);
  EXPECT_EQ(counts.coeff(0, vocabulary.id("eggs")), 1);
  EXPECT_EQ(counts.coeff(0, vocabulary.id("spam eggs")), 0);  // "and" stands between them
  EXPECT_EQ(counts.row(1).nonZeros(), 0);
}

TEST(CharNgrams, AreTheOneToFourByteSubstringsOfEachLowercasedWordPaddedWithSpaces) {
  EXPECT_EQ(char_ngrams("Ann"), (std::vector<std::string>{" ", "a", "n", "n", " ",          // 1
                                                          " a", "an", "nn", "n ",             // 2
                                                          " an", "ann", "nn ",                // 3
                                                          " ann", "ann "}));                  // 4
  // Words are split at whitespace only, punctuation stays, and a padded word shorter than 4
  // bytes gives no longer n-grams.
  EXPECT_EQ(char_ngrams(" Jo,\tX "), (std::vector<std::string>{" ", "j", "o", ",", " ", " j", "jo", "o,", ", ",
                                                               " jo", "jo,", "o, ", " jo,", "jo, ", " ", "x", " ",
                                                               " x", "x ", " x "}));
  EXPECT_TRUE(char_ngrams(" \n ").empty());
}

TEST(NgramVocabulary, CountsCharacterNgramsWithTheSameBounds) {
  const std::vector<std::string> texts = {"Ann", "anna", "bob"};
  NgramOptions options;
  options.features = NgramFeatures::kChars;
  const NgramVocabulary vocabulary = NgramVocabulary::build(pointers(texts), options);  // min_document_count 2
  // In two texts or more: " ", "a", "n", " a", "an", "nn", " an", "ann", " ann".
  ASSERT_EQ(vocabulary.size(), 9);
  EXPECT_EQ(vocabulary.ngram(0), " ");
  EXPECT_EQ(vocabulary.id(" ann"), 3);  // byte order: " ", " a", " an", " ann"
  EXPECT_EQ(vocabulary.id("bob"), -1);
  EXPECT_EQ(vocabulary.id("nn "), -1);  // in "ann " only
  const std::vector<std::string> scored = {"NAN", "zzz"};
  const SparseRows counts = vocabulary.counts(pointers(scored));
  EXPECT_EQ(counts.coeff(0, vocabulary.id("n")), 2);
  EXPECT_EQ(counts.coeff(0, vocabulary.id("an")), 1);
  EXPECT_EQ(counts.coeff(0, vocabulary.id(" ")), 2);
  EXPECT_EQ(counts.coeff(1, vocabulary.id(" ")), 2);  // unseen letters, but a word
  EXPECT_EQ(counts.row(1).nonZeros(), 1);

  options.max_features = 2;
  const NgramVocabulary capped = NgramVocabulary::build(pointers(texts), options);
  ASSERT_EQ(capped.size(), 2);  // " " (6 times) and "n" (4, before "a" with 3)
  EXPECT_EQ(capped.ngram(0), " ");
  EXPECT_EQ(capped.ngram(1), "n");
}

TEST(NgramVocabulary, RefusesOptionsOutOfRange) {
  const std::vector<std::string> texts = {"a text"};
  NgramOptions options;
  options.min_document_count = 0;
  EXPECT_THROW(NgramVocabulary::build(pointers(texts), options), std::invalid_argument);
  options = NgramOptions{};
  options.max_features = -1;
  EXPECT_THROW(NgramVocabulary::build(pointers(texts), options), std::invalid_argument);
}

}  // namespace
}  // namespace tapelm
