// The two classic text classifiers a classification model is compared with, from raw texts to
// predicted classes: word unigram + bigram counts (baselines/word_ngrams.h) feeding multinomial
// naive Bayes (baselines/naive_bayes.h), and the same counts as TF-IDF rows (baselines/tfidf.h)
// feeding softmax logistic regression (baselines/logistic_regression.h). Every setting is a
// fixed default, as scikit-learn's, so a baseline's figure needs no tuning to reproduce.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapelm/baselines/logistic_regression.h>
#include <tapelm/baselines/naive_bayes.h>
#include <tapelm/baselines/word_ngrams.h>

namespace tapelm {

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
