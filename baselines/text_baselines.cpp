// Features once, both classifiers on them.
#include <tapelm/baselines/text_baselines.h>

#include <tapelm/baselines/tfidf.h>

namespace tapelm {

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
