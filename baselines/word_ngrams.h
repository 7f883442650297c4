// Word n-gram counts of texts: a simple deterministic tokenizer (scikit-learn's default
// CountVectorizer pattern, \b\w\w+\b, lowercased) and a vocabulary of word n-grams built from
// training texts, bounded by a minimum document frequency and a maximum feature count so
// memory stays bounded on large corpora.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <tapelm/baselines/sparse_rows.h>

namespace tapelm {

// The words of `text`: maximal runs of ASCII letters, digits and '_' and of non-ASCII bytes
// (so a UTF-8 word stays whole), ASCII-lowercased; runs of one byte are dropped, as
// scikit-learn drops one-character tokens.
std::vector<std::string> words(const std::string& text);

struct NgramOptions {
  bool bigrams = true;  // words, and pairs of adjacent words (spelled joined by one space)
  // N-grams found in fewer training texts than this are left out (scikit-learn's min_df; its
  // default is 1, 2 drops the hapaxes that hold most of a bigram vocabulary).
  int64_t min_document_count = 2;
  // Of the rest, the most frequent (summed count over the training texts; ties by n-gram
  // text) are kept, like scikit-learn's max_features. 0 = no cap.
  int64_t max_features = 100000;
};

class NgramVocabulary {
 public:
  // Throws std::invalid_argument for options out of range.
  static NgramVocabulary build(const std::vector<const std::string*>& texts, const NgramOptions& options = {});

  // Feature ids follow the n-grams' byte order, so they do not depend on the texts' order.
  int64_t size() const { return int64_t(ngrams_.size()); }
  const std::string& ngram(int64_t id) const { return ngrams_[size_t(id)]; }
  int64_t id(const std::string& ngram) const;  // as ngram(id) spells it; -1 when absent

  // Row i: the count of each vocabulary n-gram in texts[i]; n-grams outside the vocabulary
  // (unseen in training, or dropped by the bounds) are ignored.
  SparseRows counts(const std::vector<const std::string*>& texts) const;

 private:
  NgramVocabulary(const NgramOptions& options, std::vector<std::string> ngrams);

  // The ids of `text`'s words in word_ids_, -1 for a word not in it.
  std::vector<int64_t> word_ids(const std::string& text) const;

  NgramOptions options_;
  std::vector<std::string> ngrams_;  // by feature id
  // N-grams are counted as integers (ngram_key in the .cpp) over ids of the words they hold,
  // which is several times faster than hashing their text.
  std::unordered_map<std::string, int64_t> word_ids_;  // the words of the kept n-grams
  std::unordered_map<uint64_t, int64_t> ids_;          // n-gram key -> feature id
};

}  // namespace tapelm
