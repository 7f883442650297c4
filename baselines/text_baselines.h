// The two classic text classifiers a classification model is compared with, from raw texts to
// predicted classes: word unigram + bigram counts (baselines/ngram_vocabulary.h) feeding multinomial
// naive Bayes (baselines/naive_bayes.h), and the same counts as TF-IDF rows (baselines/tfidf.h)
// feeding softmax logistic regression (baselines/logistic_regression.h). Every setting is a
// fixed default, as scikit-learn's, so a baseline's figure needs no tuning to reproduce.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapelm/baselines/logistic_regression.h>
#include <tapelm/baselines/naive_bayes.h>
#include <tapelm/baselines/ngram_vocabulary.h>

namespace tapelm {

// Character n-grams when the median training text has at most kMaxWordsForCharNgrams
// whitespace-separated words, else word n-grams. Word n-grams only generalise through words a
// scored text shares with training texts: on texts of a word or a few (names, labels, short
// titles) most scored texts share none, and both classifiers fall back to the majority class,
// while character n-grams still see prefixes and suffixes. On sentences and documents word
// n-grams are the usual and cheaper choice.
constexpr int64_t kMaxWordsForCharNgrams = 3;
NgramFeatures suited_ngram_features(const std::vector<const std::string*>& train_texts);

// "word 1-2-grams", "word 1-grams" or "char 1-4-grams" (char_wb, as scikit-learn calls the kind), for reports.
std::string describe_ngram_features(const NgramOptions& options);

struct TextBaselineOptions {
  NgramOptions ngrams;
  NaiveBayesOptions naive_bayes;
  LogisticRegressionOptions logistic_regression;
};

struct TextBaselinePredictions {
  std::vector<int32_t> tfidf_logistic_regression;  // one class per scored text
  std::vector<int32_t> naive_bayes;
};

// Trains both on train_texts (class train_labels[i] in [0, n_classes)) and predicts the class
// of each of scored_texts. Throws std::invalid_argument as the classifiers do (no training
// text, mismatched sizes, a label out of range).
TextBaselinePredictions train_text_baselines(const std::vector<const std::string*>& train_texts,
                                             const std::vector<int32_t>& train_labels, int32_t n_classes,
                                             const std::vector<const std::string*>& scored_texts,
                                             const TextBaselineOptions& options = {});

}  // namespace tapelm
