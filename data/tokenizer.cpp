// Tokenizer: sentencepiece training from the corpus through an in-memory line iterator, and
// line-wise encoding around the "\n" piece (each line gets sentencepiece's dummy-prefix
// space, so a word at the start of a line is tokenized like one in the middle).
#include <tapelm/data/tokenizer.h>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <utility>

#include <tapelm/autograd/rng.h>
#include <tapelm/data/atomic_file.h>
#include <tapelm/data/corpus.h>
#include <tapelm/data/documents.h>
#include <tapelm/data/hash.h>

namespace tapelm {
namespace {

// Feeds the corpus to sentencepiece one line at a time, cutting over-long lines at spaces
// (sentencepiece silently drops lines above max_sentence_length, and its pieces never
// cross spaces, so cutting there loses nothing). With a sample size, exactly that many of
// the `total` lines are kept, chosen uniformly by selection sampling (Knuth's Algorithm S)
// driven by our seeded Rng: sentencepiece's own sampler ignores the seed in this version.
// Errors are kept and rethrown after training: exceptions must not unwind through the library.
class CorpusLines : public sentencepiece::SentenceIterator {
 public:
  CorpusLines(const Corpus& corpus, size_t max_length, uint64_t total = 0, uint64_t sample = 0, uint64_t seed = 0)
      : corpus_(corpus), max_length_(max_length), total_(total), sample_(sample), rng_(seed) {
    advance();
  }

  bool done() const override { return done_; }
  void Next() override { advance(); }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override {
    if (error_) return sentencepiece::util::Status(sentencepiece::util::StatusCode::kInternal, "reading the corpus failed");
    return {};
  }

  uint64_t lines_seen() const { return seen_; }
  uint64_t lines_given() const { return given_; }
  void rethrow_error() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  bool sampling() const { return sample_ > 0 && sample_ < total_; }

  void advance() {
    try {
      while (next_line()) {
        const uint64_t index = seen_++;
        if (sampling()) {
          if (given_ == sample_) break;
          if (rng_.below(total_ - index) >= sample_ - given_) continue;
        }
        ++given_;
        return;
      }
    } catch (...) {
      error_ = std::current_exception();
    }
    done_ = true;
  }

  // Puts the next non-empty line (or piece of one) in value_; false at the end.
  bool next_line() {
    while (true) {
      if (pos_ >= text_.size()) {
        if (file_ >= corpus_.size()) return false;
        text_.clear();
        // Lines never span documents; empty lines are skipped, so a file of one document
        // reads as it is.
        for (const Document& document : read_documents(corpus_, file_++)) {
          if (!text_.empty()) text_ += '\n';
          text_ += document.text;
        }
        pos_ = 0;
        continue;
      }
      size_t end = text_.find('\n', pos_);
      if (end == std::string::npos) end = text_.size();
      size_t cut = end;
      size_t next = end + 1;
      if (end - pos_ > max_length_) {
        const size_t limit = pos_ + max_length_;
        const size_t space = text_.rfind(' ', limit);
        if (space != std::string::npos && space > pos_) {
          cut = space;
          next = space + 1;
        } else {  // no space: cut at a character boundary
          cut = limit;
          while (cut > pos_ && (static_cast<unsigned char>(text_[cut]) & 0xC0) == 0x80) --cut;
          next = cut;
        }
      }
      const size_t start = pos_;
      pos_ = next;
      if (cut > start) {
        value_.assign(text_, start, cut - start);
        return true;
      }
    }
  }

  const Corpus& corpus_;
  const size_t max_length_;
  const uint64_t total_;
  const uint64_t sample_;
  Rng rng_;
  size_t file_ = 0;
  std::string text_;
  size_t pos_ = 0;
  std::string value_;
  bool done_ = false;
  uint64_t seen_ = 0;
  uint64_t given_ = 0;
  std::exception_ptr error_;
};

// Number of training lines CorpusLines would produce (one pass over the corpus).
uint64_t count_lines(const Corpus& corpus, size_t max_length) {
  CorpusLines lines(corpus, max_length);
  while (!lines.done()) lines.Next();
  lines.rethrow_error();
  return lines.lines_given();
}

bool is_whole_unit_model(TokenizerType type) { return type == TokenizerType::kChar || type == TokenizerType::kWord; }

void validate(const TokenizerConfig& c) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("tokenizer config: " + what); };
  const int reserved = 5 + static_cast<int>(c.user_defined_symbols.size()) + (c.byte_fallback ? 256 : 0);
  if (c.vocab_size <= reserved) {
    fail("vocab_size " + std::to_string(c.vocab_size) + " leaves no room for learned pieces: " +
         std::to_string(reserved) + " ids are reserved (4 specials, \"\\n\"" +
         (c.byte_fallback ? ", 256 byte pieces" : "") +
         (c.user_defined_symbols.empty() ? "" : ", user symbols") + ")");
  }
  if (!(c.character_coverage > 0.0 && c.character_coverage <= 1.0)) {
    fail("character_coverage " + std::to_string(c.character_coverage) + " must be in (0, 1]");
  }
  if (c.max_sentence_length < 16) fail("max_sentence_length " + std::to_string(c.max_sentence_length) + " must be >= 16");
  if (c.num_threads < 1) fail("num_threads " + std::to_string(c.num_threads) + " must be >= 1");
  for (const std::string& symbol : c.user_defined_symbols) {
    if (symbol.empty() || symbol.find(',') != std::string::npos) {
      fail("user_defined_symbols entry '" + symbol + "' must be non-empty and contain no comma");
    }
  }
}

// sentencepiece messages look like "./src/file.cc(line) [failed condition] reason"; keep
// the reason, or the condition when there is no reason.
std::string reason_of(const sentencepiece::util::Status& status) {
  const std::string message = status.message();
  const size_t open = message.find(" [");
  const size_t close = message.find("] ");
  if (message.rfind("./src/", 0) != 0 || open == std::string::npos || close == std::string::npos) return message;
  const std::string reason = message.substr(close + 2);
  if (reason.find_first_not_of(' ') != std::string::npos) return reason;
  return "failed check " + message.substr(open + 1, close + 1 - (open + 1));
}

// All significant digits: std::to_string keeps six decimals, turning 0.9999995 into 1.
std::string exact_decimal(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

std::string hint_for(const std::string& reason) {
  if (reason.find("Vocabulary size too high") != std::string::npos) {
    return " (hint: lower vocab_size or train on more text)";
  }
  if (reason.find("smaller than required_chars") != std::string::npos) {
    return " (hint: raise vocab_size, lower character_coverage, or disable byte_fallback)";
  }
  return "";
}

}  // namespace

template <>
const EnumNames<TokenizerType>& enum_names<TokenizerType>() {
  static const EnumNames<TokenizerType> names("tokenizer type", {{TokenizerType::kBpe, "bpe"},
                                                                 {TokenizerType::kUnigram, "unigram"},
                                                                 {TokenizerType::kChar, "char"},
                                                                 {TokenizerType::kWord, "word"}});
  return names;
}

Tokenizer Tokenizer::train(const Corpus& corpus, const TokenizerConfig& config) {
  validate(config);
  std::string symbols = "\n";
  for (const std::string& symbol : config.user_defined_symbols) symbols += "," + symbol;
  // char and word models take every character / word of the text: vocab_size is only a
  // cap there, digits stay inside their word ("AH0" is one phoneme), and a char model needs
  // no dummy-prefix "▁" (it would be one more token in front of every line).
  const bool whole_units = is_whole_unit_model(config.type);
  const std::unordered_map<std::string, std::string> options = {
      {"model_type", enum_name(config.type)},
      {"vocab_size", std::to_string(config.vocab_size)},
      {"hard_vocab_limit", whole_units ? "false" : "true"},
      {"character_coverage", exact_decimal(config.character_coverage)},
      {"byte_fallback", config.byte_fallback ? "true" : "false"},
      {"split_digits", config.split_digits && !whole_units ? "true" : "false"},
      {"normalization_rule_name", config.normalization},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", config.type == TokenizerType::kChar ? "false" : "true"},
      {"pad_id", std::to_string(kPadId)},
      {"bos_id", std::to_string(kBosId)},
      {"eos_id", std::to_string(kEosId)},
      {"unk_id", std::to_string(kUnkId)},
      {"pad_piece", "<pad>"},
      {"bos_piece", "<bos>"},
      {"eos_piece", "<eos>"},
      {"unk_piece", "<unk>"},
      {"user_defined_symbols", symbols},
      {"input_sentence_size", "0"},  // CorpusLines samples
      {"max_sentence_length", std::to_string(config.max_sentence_length)},
      {"num_threads", std::to_string(config.num_threads)},
      {"minloglevel", config.verbose ? "0" : "1"},
  };
  const auto max_length = static_cast<size_t>(config.max_sentence_length);
  const uint64_t total = config.max_sentences > 0 ? count_lines(corpus, max_length) : 0;
  CorpusLines lines(corpus, max_length, total, config.max_sentences, config.seed);
  std::string model;
  const sentencepiece::util::Status status = sentencepiece::SentencePieceTrainer::Train(options, &lines, &model);
  lines.rethrow_error();
  if (!status.ok()) {
    const std::string reason = reason_of(status);
    throw std::runtime_error("tokenizer: sentencepiece training failed (type=" + std::string(enum_name(config.type)) +
                             ", vocab_size=" + std::to_string(config.vocab_size) + ", " +
                             std::to_string(lines.lines_given()) + " lines from " + std::to_string(corpus.size()) +
                             " file(s)): " + reason + hint_for(reason));
  }
  return Tokenizer(std::move(model), "training");
}

Tokenizer Tokenizer::train_on_texts(const std::vector<std::string>& texts, const TokenizerConfig& config,
                                    const std::filesystem::path& scratch_dir) {
  std::filesystem::create_directories(scratch_dir);
  const std::filesystem::path file = temp_path_for((scratch_dir / "tokenizer_texts.txt").string());
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    for (const std::string& text : texts) out << text << '\n';
    if (!out) throw std::runtime_error(file.string() + ": cannot write the tokenizer training texts");
  }
  // Removes the scratch file however training ends.
  struct Remove {
    std::filesystem::path path;
    ~Remove() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  } remove{file};
  CorpusConfig corpus;
  corpus.sources = {file.string()};
  return train(Corpus(corpus), config);
}

Tokenizer Tokenizer::load(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw std::runtime_error("tokenizer: model file '" + path + "' does not exist");
  }
  return Tokenizer(read_file(path), "'" + path + "'");
}

Tokenizer Tokenizer::from_bytes(std::string model_bytes, const std::string& origin) {
  return Tokenizer(std::move(model_bytes), origin);
}

Tokenizer::Tokenizer(std::string model_bytes, const std::string& origin)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()), model_bytes_(std::move(model_bytes)) {
  const sentencepiece::util::Status status = processor_->LoadFromSerializedProto(model_bytes_);
  if (!status.ok()) {
    throw std::runtime_error("tokenizer: cannot load sentencepiece model from " + origin + ": " + std::string(status.message()));
  }
  model_hash_ = hash64(model_bytes_);
  vocab_size_ = processor_->GetPieceSize();
  pad_id_ = processor_->pad_id();
  bos_id_ = processor_->bos_id();
  eos_id_ = processor_->eos_id();
  unk_id_ = processor_->unk_id();
  const int newline = processor_->PieceToId("\n");
  newline_id_ = processor_->IdToPiece(newline) == "\n" ? newline : -1;
}

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

void Tokenizer::save(const std::string& path) const { write_file_atomic(path, model_bytes_); }

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  encode_append(text, ids);
  return ids;
}

void Tokenizer::encode_append(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<int> ids;
  auto encode_piece = [&](std::string_view piece) {
    const sentencepiece::util::Status status = processor_->Encode(piece, &ids);
    if (!status.ok()) throw std::runtime_error("tokenizer: encoding failed: " + std::string(status.message()));
    out.insert(out.end(), ids.begin(), ids.end());
  };
  if (newline_id_ < 0) {  // a foreign model: let sentencepiece see the whole text
    encode_piece(text);
    return;
  }
  size_t pos = 0;
  while (true) {
    const size_t end = text.find('\n', pos);
    const std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (!line.empty()) encode_piece(line);
    if (end == std::string_view::npos) break;
    out.push_back(newline_id_);
    pos = end + 1;
  }
}

void Tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size_) {
    throw std::out_of_range("tokenizer: id " + std::to_string(id) + " is outside the vocabulary [0, " +
                            std::to_string(vocab_size_) + ")");
  }
}

std::string Tokenizer::decode(const int32_t* ids, size_t count) const {
  for (size_t i = 0; i < count; ++i) check_id(ids[i]);
  std::string text;
  std::string piece;
  auto decode_run = [&](const int32_t* begin, const int32_t* end) {
    if (begin == end) return;
    const sentencepiece::util::Status status = processor_->Decode(std::vector<int>(begin, end), &piece);
    if (!status.ok()) throw std::runtime_error("tokenizer: decoding failed: " + std::string(status.message()));
    text += piece;
  };
  const int32_t* const end = ids + count;
  if (newline_id_ < 0) {
    decode_run(ids, end);
    return text;
  }
  const int32_t* start = ids;
  for (const int32_t* p = ids; p != end; ++p) {
    if (*p != newline_id_) continue;
    decode_run(start, p);
    text += '\n';
    start = p + 1;
  }
  decode_run(start, end);
  return text;
}

std::string Tokenizer::piece(int32_t id) const {
  check_id(id);
  return processor_->IdToPiece(id);
}

}  // namespace tapelm
