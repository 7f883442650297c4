// Tokenizing, counting n-grams and choosing the vocabulary.
#include "baselines/word_ngrams.h"

#include <algorithm>
#include <stdexcept>

namespace tapelm {
namespace {

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

// Calls visit(ngram) for every n-gram of `text`'s words, min_n <= n <= max_n, in text order.
template <class Visit>
void for_each_ngram(const std::string& text, const NgramOptions& options, Visit visit) {
  const std::vector<std::string> tokens = words(text);
  for (size_t begin = 0; begin < tokens.size(); ++begin) {
    std::string ngram;
    for (int n = 1; n <= options.max_n && begin + size_t(n) <= tokens.size(); ++n) {
      ngram += (n == 1 ? "" : " ") + tokens[begin + size_t(n) - 1];
      if (n >= options.min_n) visit(ngram);
    }
  }
}

void check(const NgramOptions& options) {
  if (options.min_n < 1 || options.max_n < options.min_n) {
    throw std::invalid_argument("word n-grams: need 1 <= min_n <= max_n, got min_n " + std::to_string(options.min_n) +
                                ", max_n " + std::to_string(options.max_n));
  }
  if (options.min_document_count < 1 || options.max_features < 0) {
    throw std::invalid_argument("word n-grams: need min_document_count >= 1 and max_features >= 0, got " +
                                std::to_string(options.min_document_count) + " and " +
                                std::to_string(options.max_features));
  }
}

}  // namespace

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    const size_t begin = i;
    while (i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    if (i - begin < 2) continue;
    std::string word = text.substr(begin, i - begin);
    for (char& c : word) {
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    }
    out.push_back(std::move(word));
  }
  return out;
}

NgramVocabulary::NgramVocabulary(std::vector<std::string> ngrams, const NgramOptions& options)
    : options_(options), ngrams_(std::move(ngrams)) {
  for (size_t id = 0; id < ngrams_.size(); ++id) ids_.emplace(ngrams_[id], int64_t(id));
}

NgramVocabulary NgramVocabulary::build(const std::vector<const std::string*>& texts, const NgramOptions& options) {
  check(options);
  struct Frequency {
    int64_t count = 0;      // over all texts
    int64_t documents = 0;  // texts holding it
    size_t last_text = size_t(-1);
  };
  std::unordered_map<std::string, Frequency> frequencies;
  for (size_t t = 0; t < texts.size(); ++t) {
    for_each_ngram(*texts[t], options, [&](const std::string& ngram) {
      Frequency& f = frequencies[ngram];
      ++f.count;
      if (f.last_text != t) ++f.documents;
      f.last_text = t;
    });
  }
  std::vector<std::pair<int64_t, std::string>> kept;  // (count, ngram)
  for (auto& [ngram, f] : frequencies) {
    if (f.documents >= options.min_document_count) kept.emplace_back(f.count, ngram);
  }
  if (options.max_features > 0 && int64_t(kept.size()) > options.max_features) {
    const auto more_frequent = [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    };
    std::nth_element(kept.begin(), kept.begin() + options.max_features, kept.end(), more_frequent);
    kept.resize(size_t(options.max_features));
  }
  std::vector<std::string> ngrams;
  ngrams.reserve(kept.size());
  for (auto& entry : kept) ngrams.push_back(std::move(entry.second));
  std::sort(ngrams.begin(), ngrams.end());
  return NgramVocabulary(std::move(ngrams), options);
}

int64_t NgramVocabulary::id(const std::string& ngram) const {
  const auto found = ids_.find(ngram);
  return found == ids_.end() ? -1 : found->second;
}

SparseRows NgramVocabulary::counts(const std::vector<const std::string*>& texts) const {
  std::vector<Eigen::Triplet<double>> entries;
  std::vector<int64_t> ids;
  for (size_t row = 0; row < texts.size(); ++row) {
    ids.clear();
    for_each_ngram(*texts[row], options_, [&](const std::string& ngram) {
      const int64_t found = id(ngram);
      if (found >= 0) ids.push_back(found);
    });
    std::sort(ids.begin(), ids.end());
    for (size_t i = 0; i < ids.size();) {
      size_t j = i;
      while (j < ids.size() && ids[j] == ids[i]) ++j;
      entries.emplace_back(int(row), int(ids[i]), double(j - i));
      i = j;
    }
  }
  SparseRows matrix(Eigen::Index(texts.size()), Eigen::Index(size()));
  matrix.setFromTriplets(entries.begin(), entries.end());
  return matrix;
}

}  // namespace tapelm
