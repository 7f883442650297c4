// Features once, both classifiers on them.
#include <tapelm/baselines/text_baselines.h>

#include <algorithm>

#include <tapelm/baselines/tfidf.h>

namespace tapelm {

NgramFeatures suited_ngram_features(const std::vector<const std::string*>& train_texts) {
  if (train_texts.empty()) return NgramFeatures::kWords;
  std::vector<int64_t> word_counts;
  word_counts.reserve(train_texts.size());
  for (const std::string* text : train_texts) word_counts.push_back(whitespace_word_count(*text));
  // The lower median, so half the texts or more have at most that many words.
  const auto median = word_counts.begin() + (word_counts.size() - 1) / 2;
  std::nth_element(word_counts.begin(), median, word_counts.end());
  return *median <= kMaxWordsForCharNgrams ? NgramFeatures::kChars : NgramFeatures::kWords;
}

std::string describe_ngram_features(const NgramOptions& options) {
  if (options.features == NgramFeatures::kChars) return "char 1-" + std::to_string(kMaxCharNgram) + "-grams";
  return options.bigrams ? "word 1-2-grams" : "word 1-grams";
}

TextBaselinePredictions train_text_baselines(const std::vector<const std::string*>& train_texts,
                                             const std::vector<int32_t>& train_labels, int32_t n_classes,
                                             const std::vector<const std::string*>& scored_texts,
                                             const TextBaselineOptions& options) {
  const NgramVocabulary vocabulary = NgramVocabulary::build(train_texts, options.ngrams);
  const SparseRows train_counts = vocabulary.counts(train_texts);
  const SparseRows scored_counts = vocabulary.counts(scored_texts);
  TextBaselinePredictions predictions;
  predictions.naive_bayes =
      MultinomialNaiveBayes::fit(train_counts, train_labels, n_classes, options.naive_bayes).predict(scored_counts);
  const Tfidf tfidf = Tfidf::fit(train_counts);
  predictions.tfidf_logistic_regression =
      LogisticRegression::fit(tfidf.transform(train_counts), train_labels, n_classes, options.logistic_regression)
          .predict(tfidf.transform(scored_counts));
  return predictions;
}

}  // namespace tapelm
