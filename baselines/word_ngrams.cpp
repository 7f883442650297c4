// Tokenizing, counting n-grams and choosing the vocabulary.
#include <tapelm/baselines/word_ngrams.h>

#include <algorithm>
#include <stdexcept>

namespace tapelm {
namespace {

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

// Calls visit(word) for each word of `text` (as words() lists them) in one reused buffer, so
// the hot loops over whole corpora allocate nothing per word.
template <class Visit>
void for_each_word(const std::string& text, Visit visit) {
  std::string word;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    const size_t begin = i;
    while (i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    if (i - begin < 2) continue;
    word.assign(text, begin, i - begin);
    for (char& c : word) {
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    }
    visit(word);
  }
}

// A unigram (second = -1) or bigram of word ids as one integer.
uint64_t ngram_key(int64_t first, int64_t second) { return (uint64_t(first) + 1) << 32 | uint64_t(second + 1); }

// Calls visit(key) for every unigram and (when asked) bigram of `ids` that holds no unknown
// word (-1).
template <class Visit>
void for_each_ngram_key(const std::vector<int64_t>& ids, bool bigrams, Visit visit) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0) continue;
    visit(ngram_key(ids[i], -1));
    if (bigrams && i + 1 < ids.size() && ids[i + 1] >= 0) visit(ngram_key(ids[i], ids[i + 1]));
  }
}

// The n-gram's words as ids of a growing dictionary.
int64_t add_word(std::unordered_map<std::string, int64_t>& ids, std::vector<std::string>& spelled,
                 const std::string& word) {
  const auto [it, added] = ids.try_emplace(word, int64_t(spelled.size()));
  if (added) spelled.push_back(word);
  return it->second;
}

}  // namespace

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  for_each_word(text, [&](const std::string& word) { out.push_back(word); });
  return out;
}

NgramVocabulary::NgramVocabulary(const NgramOptions& options, std::vector<std::string> ngrams)
    : options_(options), ngrams_(std::move(ngrams)) {
  std::vector<std::string> spelled;
  for (size_t id = 0; id < ngrams_.size(); ++id) {
    const size_t space = ngrams_[id].find(' ');
    const int64_t first = add_word(word_ids_, spelled, ngrams_[id].substr(0, space));
    const int64_t second =
        space == std::string::npos ? -1 : add_word(word_ids_, spelled, ngrams_[id].substr(space + 1));
    ids_.emplace(ngram_key(first, second), int64_t(id));
  }
}

NgramVocabulary NgramVocabulary::build(const std::vector<const std::string*>& texts, const NgramOptions& options) {
  if (options.min_document_count < 1 || options.max_features < 0) {
    throw std::invalid_argument("word n-grams: need min_document_count >= 1 and max_features >= 0, got " +
                                std::to_string(options.min_document_count) + " and " +
                                std::to_string(options.max_features));
  }
  struct Frequency {
    int64_t count = 0;      // over all texts
    int64_t documents = 0;  // texts holding it
    size_t last_text = size_t(-1);
  };
  std::unordered_map<std::string, int64_t> word_ids;  // every training word
  std::vector<std::string> spelled;
  std::unordered_map<uint64_t, Frequency> frequencies;
  std::vector<int64_t> ids;
  for (size_t t = 0; t < texts.size(); ++t) {
    ids.clear();
    for_each_word(*texts[t], [&](const std::string& word) { ids.push_back(add_word(word_ids, spelled, word)); });
    for_each_ngram_key(ids, options.bigrams, [&](uint64_t key) {
      Frequency& f = frequencies[key];
      ++f.count;
      if (f.last_text != t) ++f.documents;
      f.last_text = t;
    });
  }
  std::vector<std::pair<int64_t, std::string>> kept;  // (count, ngram)
  for (const auto& [key, f] : frequencies) {
    if (f.documents < options.min_document_count) continue;
    const uint64_t second = key & 0xFFFFFFFFu;
    kept.emplace_back(f.count, spelled[(key >> 32) - 1] + (second ? " " + spelled[second - 1] : ""));
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
  return NgramVocabulary(options, std::move(ngrams));
}

std::vector<int64_t> NgramVocabulary::word_ids(const std::string& text) const {
  std::vector<int64_t> ids;
  for_each_word(text, [&](const std::string& word) {
    const auto found = word_ids_.find(word);
    ids.push_back(found == word_ids_.end() ? -1 : found->second);
  });
  return ids;
}

int64_t NgramVocabulary::id(const std::string& ngram) const {
  const std::vector<int64_t> ids = word_ids(ngram);
  if (ids.empty() || ids.size() > 2 || ids[0] < 0 || (ids.size() == 2 && ids[1] < 0)) return -1;
  const auto found = ids_.find(ngram_key(ids[0], ids.size() == 2 ? ids[1] : -1));
  return found == ids_.end() || ngrams_[size_t(found->second)] != ngram ? -1 : found->second;
}

SparseRows NgramVocabulary::counts(const std::vector<const std::string*>& texts) const {
  std::vector<Eigen::Triplet<double>> entries;
  std::vector<int64_t> features;
  for (size_t row = 0; row < texts.size(); ++row) {
    features.clear();
    for_each_ngram_key(word_ids(*texts[row]), options_.bigrams, [&](uint64_t key) {
      const auto found = ids_.find(key);
      if (found != ids_.end()) features.push_back(found->second);
    });
    std::sort(features.begin(), features.end());
    for (size_t i = 0; i < features.size();) {
      size_t j = i;
      while (j < features.size() && features[j] == features[i]) ++j;
      entries.emplace_back(int(row), int(features[i]), double(j - i));
      i = j;
    }
  }
  SparseRows matrix(Eigen::Index(texts.size()), Eigen::Index(size()));
  matrix.setFromTriplets(entries.begin(), entries.end());
  return matrix;
}

}  // namespace tapelm
