// Subword tokenizer: trains or loads a sentencepiece model (BPE, unigram, char or word) and
// encodes / decodes text. Models trained here with the default settings keep text exactly:
// identity normalization, extra whitespace kept, byte fallback for unseen characters, and
// "\n" as its own piece, so decode(encode(text)) == text for valid UTF-8. Text is encoded
// line by line (each line but in char models gets sentencepiece's dummy-prefix space, so a
// word at the start of a line is tokenized like one mid-line) with the "\n" id between lines.
#pragma once

#include <cstdint>
#include <memory>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <tapelm/data/enum_names.h>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace tapelm {

class Corpus;

// Fixed ids of the special pieces in models trained here.
constexpr int32_t kPadId = 0;  // "<pad>"
constexpr int32_t kBosId = 1;  // "<bos>"
constexpr int32_t kEosId = 2;  // "<eos>"
constexpr int32_t kUnkId = 3;  // "<unk>"
constexpr int32_t kNewlineId = 4;  // "\n", a user-defined piece

// SentencePiece model types: bpe | unigram | char (one piece per character, e.g. the letters
// of a word) | word (one piece per whitespace-separated word, e.g. ARPAbet phonemes
// "HH AH0 L OW1"). char and word models keep every character / word seen in training (up to
// vocab_size), ignore split_digits, and a char model adds no dummy-prefix space in front of a line.
enum class TokenizerType { kBpe, kUnigram, kChar, kWord };
template <>
const EnumNames<TokenizerType>& enum_names<TokenizerType>();

struct TokenizerConfig {
  TokenizerType type = TokenizerType::kBpe;
  int vocab_size = 4096;           // includes the specials, "\n" and (with byte_fallback) 256 byte pieces
  double character_coverage = 1.0; // fraction of characters given their own piece; rarer ones fall back to bytes/<unk>
  bool byte_fallback = true;       // unseen characters become UTF-8 byte pieces instead of <unk>
  bool split_digits = true;        // every digit its own piece
  std::string normalization = "identity";  // sentencepiece rule: identity | nfkc | nmt_nfkc | nfkc_cf | nmt_nfkc_cf
  // Training reads the corpus line by line; lines longer than max_sentence_length bytes
  // are cut at spaces. When there are more than max_sentences lines (0 = no limit),
  // that many are sampled uniformly with `seed`, to bound training time on large corpora.
  uint64_t max_sentences = 1000000;
  int max_sentence_length = 8192;
  int num_threads = 1;  // training threads; the model is deterministic for given inputs, seed and thread count
  uint32_t seed = 1234;
  std::vector<std::string> user_defined_symbols;  // extra pieces kept whole, after "\n"
  bool verbose = false;  // let sentencepiece log its progress to stderr
};

class Tokenizer {
 public:
  // Trains on every document of `corpus`. Throws std::invalid_argument for a bad config
  // and std::runtime_error (with sentencepiece's reason and a hint) when training fails,
  // e.g. a vocab_size the corpus cannot fill.
  static Tokenizer train(const Corpus& corpus, const TokenizerConfig& config);
  // Trains on in-memory texts (a task's training inputs or targets, one sentence each),
  // through a scratch file in `scratch_dir` that is removed however training ends. Throws as
  // train() does.
  static Tokenizer train_on_texts(const std::vector<std::string>& texts, const TokenizerConfig& config,
                                  const std::filesystem::path& scratch_dir);
  // Loads a .model file (ours or any sentencepiece model).
  static Tokenizer load(const std::string& path);
  // Loads serialized model bytes; `origin` names them in error messages.
  static Tokenizer from_bytes(std::string model_bytes, const std::string& origin);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Writes the model atomically; the file can be given to load() or to sentencepiece tools.
  void save(const std::string& path) const;

  std::vector<int32_t> encode(std::string_view text) const;
  // Appends the ids of `text` to `out` (no allocation beyond out's growth).
  void encode_append(std::string_view text, std::vector<int32_t>& out) const;
  // Control ids (<pad>, <bos>, <eos>) decode to nothing; ids outside [0, vocab_size) throw.
  std::string decode(const int32_t* ids, size_t count) const;
  std::string decode(const std::vector<int32_t>& ids) const { return decode(ids.data(), ids.size()); }

  int32_t vocab_size() const { return vocab_size_; }
  // -1 when a loaded model lacks the piece.
  int32_t pad_id() const { return pad_id_; }
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t newline_id() const { return newline_id_; }
  std::string piece(int32_t id) const;

  // The serialized model and its hash (part of the shard cache key).
  const std::string& model_bytes() const { return model_bytes_; }
  uint64_t model_hash() const { return model_hash_; }

 private:
  Tokenizer(std::string model_bytes, const std::string& origin);
  void check_id(int32_t id) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string model_bytes_;
  uint64_t model_hash_ = 0;
  int32_t vocab_size_ = 0;
  int32_t pad_id_ = -1, bos_id_ = -1, eos_id_ = -1, unk_id_ = -1, newline_id_ = -1;
};

}  // namespace tapelm
