// Tokenizing, counting n-grams of either kind and choosing the vocabulary: the kinds differ
// only in how a text's n-grams become integer keys and how a key is spelled back.
#include <tapelm/baselines/ngram_vocabulary.h>

#include <algorithm>
#include <stdexcept>

namespace tapelm {
namespace {

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

void lowercase_ascii(std::string& text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
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
    lowercase_ascii(word);
    visit(word);
  }
}

// A unigram (second = -1) or bigram of word ids as one integer.
uint64_t word_ngram_key(int64_t first, int64_t second) {
  return (uint64_t(first) + 1) << 32 | uint64_t(second + 1);
}

// Calls visit(key) for every unigram and (when asked) bigram of `text`'s words that holds no
// word word_id() does not know (-1); `ids` is a reused buffer.
template <class WordId, class Visit>
void for_each_word_ngram_key(const std::string& text, bool bigrams, std::vector<int64_t>& ids, WordId word_id,
                             Visit visit) {
  ids.clear();
  for_each_word(text, [&](const std::string& word) { ids.push_back(word_id(word)); });
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0) continue;
    visit(word_ngram_key(ids[i], -1));
    if (bigrams && i + 1 < ids.size() && ids[i + 1] >= 0) visit(word_ngram_key(ids[i], ids[i + 1]));
  }
}

// A character n-gram of 1 to 4 bytes as one integer: its bytes, and its length above them so
// that "a" and "a\0" differ.
uint64_t char_ngram_key(const char* bytes, size_t n) {
  uint64_t key = uint64_t(n) << 32;
  for (size_t i = 0; i < n; ++i) key |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  return key;
}

std::string spell_char_ngram(uint64_t key) {
  std::string ngram(size_t(key >> 32), '\0');
  for (size_t i = 0; i < ngram.size(); ++i) ngram[i] = char((key >> (8 * i)) & 0xFF);
  return ngram;
}

// Calls visit(begin, end) for each maximal run of non-whitespace bytes of `text`.
template <class Visit>
void for_each_whitespace_word(const std::string& text, Visit visit) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const size_t begin = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > begin) visit(begin, i);
  }
}

// Calls visit(key) for each character n-gram of `text`, in char_ngrams()'s order.
template <class Visit>
void for_each_char_ngram_key(const std::string& text, Visit visit) {
  std::string padded;
  for_each_whitespace_word(text, [&](size_t begin, size_t end) {
    padded.assign(1, ' ').append(text, begin, end - begin).push_back(' ');
    lowercase_ascii(padded);
    for (size_t n = 1; n <= std::min(size_t(kMaxCharNgram), padded.size()); ++n) {
      for (size_t offset = 0; offset + n <= padded.size(); ++offset) visit(char_ngram_key(padded.data() + offset, n));
    }
  });
}

// Calls visit(key) for each n-gram of `text` of options.features' kind; word_id(word) is the
// id of a word (-1 for one not known), `buffer` is reused across texts.
template <class WordId, class Visit>
void for_each_ngram_key(const std::string& text, const NgramOptions& options, std::vector<int64_t>& buffer,
                        WordId word_id, Visit visit) {
  if (options.features == NgramFeatures::kChars) {
    for_each_char_ngram_key(text, visit);
  } else {
    for_each_word_ngram_key(text, options.bigrams, buffer, word_id, visit);
  }
}

// The n-gram's words as ids of a growing dictionary.
int64_t add_word(std::unordered_map<std::string, int64_t>& ids, std::vector<std::string>& spelled,
                 const std::string& word) {
  const auto [it, added] = ids.try_emplace(word, int64_t(spelled.size()));
  if (added) spelled.push_back(word);
  return it->second;
}

// The key of a vocabulary n-gram as spelled; its words (kWords) join `word_ids`.
uint64_t key_of(const std::string& ngram, const NgramOptions& options,
                std::unordered_map<std::string, int64_t>& word_ids, std::vector<std::string>& spelled) {
  if (options.features == NgramFeatures::kChars) return char_ngram_key(ngram.data(), ngram.size());
  const size_t space = ngram.find(' ');
  const int64_t first = add_word(word_ids, spelled, ngram.substr(0, space));
  const int64_t second = space == std::string::npos ? -1 : add_word(word_ids, spelled, ngram.substr(space + 1));
  return word_ngram_key(first, second);
}

}  // namespace

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  for_each_word(text, [&](const std::string& word) { out.push_back(word); });
  return out;
}

int64_t whitespace_word_count(const std::string& text) {
  int64_t n = 0;
  for_each_whitespace_word(text, [&](size_t, size_t) { ++n; });
  return n;
}

std::vector<std::string> char_ngrams(const std::string& text) {
  std::vector<std::string> out;
  for_each_char_ngram_key(text, [&](uint64_t key) { out.push_back(spell_char_ngram(key)); });
  return out;
}

NgramVocabulary::NgramVocabulary(const NgramOptions& options, std::vector<std::string> ngrams)
    : options_(options), ngrams_(std::move(ngrams)) {
  std::vector<std::string> spelled;
  for (size_t id = 0; id < ngrams_.size(); ++id) ids_.emplace(key_of(ngrams_[id], options_, word_ids_, spelled), id);
}

NgramVocabulary NgramVocabulary::build(const std::vector<const std::string*>& texts, const NgramOptions& options) {
  if (options.min_document_count < 1 || options.max_features < 0) {
    throw std::invalid_argument("n-grams: need min_document_count >= 1 and max_features >= 0, got " +
                                std::to_string(options.min_document_count) + " and " +
                                std::to_string(options.max_features));
  }
  struct Frequency {
    int64_t count = 0;      // over all texts
    int64_t documents = 0;  // texts holding it
    size_t last_text = size_t(-1);
  };
  std::unordered_map<std::string, int64_t> word_ids;  // every training word (kWords)
  std::vector<std::string> spelled;
  std::unordered_map<uint64_t, Frequency> frequencies;
  std::vector<int64_t> buffer;
  const auto add_training_word = [&](const std::string& word) { return add_word(word_ids, spelled, word); };
  for (size_t t = 0; t < texts.size(); ++t) {
    for_each_ngram_key(*texts[t], options, buffer, add_training_word, [&](uint64_t key) {
      Frequency& f = frequencies[key];
      ++f.count;
      if (f.last_text != t) ++f.documents;
      f.last_text = t;
    });
  }
  const auto spell = [&](uint64_t key) {
    if (options.features == NgramFeatures::kChars) return spell_char_ngram(key);
    const uint64_t second = key & 0xFFFFFFFFu;
    return spelled[(key >> 32) - 1] + (second ? " " + spelled[second - 1] : "");
  };
  std::vector<std::pair<int64_t, std::string>> kept;  // (count, ngram)
  for (const auto& [key, f] : frequencies) {
    if (f.documents >= options.min_document_count) kept.emplace_back(f.count, spell(key));
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

int64_t NgramVocabulary::id(const std::string& ngram) const {
  uint64_t key = 0;
  if (options_.features == NgramFeatures::kChars) {
    if (ngram.empty() || ngram.size() > size_t(kMaxCharNgram)) return -1;
    key = char_ngram_key(ngram.data(), ngram.size());
  } else {
    std::vector<int64_t> ids;
    for_each_word(ngram, [&](const std::string& word) {
      const auto found = word_ids_.find(word);
      ids.push_back(found == word_ids_.end() ? -1 : found->second);
    });
    if (ids.empty() || ids.size() > 2 || ids[0] < 0 || (ids.size() == 2 && ids[1] < 0)) return -1;
    key = word_ngram_key(ids[0], ids.size() == 2 ? ids[1] : -1);
  }
  const auto found = ids_.find(key);
  return found == ids_.end() || ngrams_[size_t(found->second)] != ngram ? -1 : found->second;
}

SparseRows NgramVocabulary::counts(const std::vector<const std::string*>& texts) const {
  std::vector<Eigen::Triplet<double>> entries;
  std::vector<int64_t> features, buffer;
  const auto known_word = [&](const std::string& word) {
    const auto found = word_ids_.find(word);
    return found == word_ids_.end() ? int64_t(-1) : found->second;
  };
  for (size_t row = 0; row < texts.size(); ++row) {
    features.clear();
    for_each_ngram_key(*texts[row], options_, buffer, known_word, [&](uint64_t key) {
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
