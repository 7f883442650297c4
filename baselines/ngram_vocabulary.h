// N-gram counts of texts, of one of two kinds: word unigrams and bigrams (scikit-learn's
// default CountVectorizer, tokens \b\w\w+\b, lowercased), or character 1- to 4-grams within
// word boundaries (its analyzer='char_wb': each whitespace-separated word, lowercased and
// padded with one space on each side). Both share one vocabulary, built from training texts
// and bounded by a minimum document frequency and a maximum feature count so memory stays
// bounded on large corpora.
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

// The number of whitespace-separated words of `text`, the words char_ngrams() pads.
int64_t whitespace_word_count(const std::string& text);

// The longest character n-gram.
constexpr int kMaxCharNgram = 4;

// The character n-grams of `text`, as NgramFeatures::kChars counts them: for each
// whitespace-separated word, ASCII-lowercased and spelled " word ", its substrings of 1 to
// kMaxCharNgram bytes (n-grams of bytes, not of code points: a non-ASCII letter is several
// bytes, which only makes its n-grams shorter in letters), word by word, shortest first.
std::vector<std::string> char_ngrams(const std::string& text);

enum class NgramFeatures {
  kWords,  // words, and (with bigrams) pairs of adjacent words spelled joined by one space
  kChars,  // char_ngrams()
};

struct NgramOptions {
  NgramFeatures features = NgramFeatures::kWords;
  bool bigrams = true;  // kWords only
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

  NgramOptions options_;
  std::vector<std::string> ngrams_;  // by feature id
  // Both kinds count n-grams as integers (ngram keys in the .cpp), which is several times
  // faster than hashing their text: a word n-gram over ids of the words it holds, a character
  // n-gram (at most 4 bytes) over its bytes.
  std::unordered_map<std::string, int64_t> word_ids_;  // the words of the kept word n-grams
  std::unordered_map<uint64_t, int64_t> ids_;          // n-gram key -> feature id
};

}  // namespace tapelm
