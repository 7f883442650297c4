// Tokenizer selection and input encoding shared by the decoder-only tasks.
#include <tapelm/train/tasks/task_common.h>

#include <algorithm>

#include <tapelm/autograd/loss.h>
#include <tapelm/train/config/builders.h>
#include <tapelm/train/checkpoint/training_checkpoint.h>

namespace tapelm {
namespace {

// SentencePiece pieces are at most 16 characters of at most 4 bytes.
constexpr size_t kMaxBytesPerToken = 64;

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// [begin, end) moved onto UTF-8 character boundaries (inwards).
std::string_view utf8_window(std::string_view text, size_t begin, size_t end) {
  while (begin < end && is_continuation_byte(text[begin])) ++begin;
  while (end < text.size() && end > begin && is_continuation_byte(text[end])) --end;
  return text.substr(begin, end - begin);
}

// The ids of `text` when it has at most head + tail tokens, else its first `head` and last
// `tail` tokens, one after the other.
std::vector<int32_t> encode_ends(const Tokenizer& tokenizer, std::string_view text, int64_t head, int64_t tail) {
  const size_t keep = size_t(head + tail);
  const size_t window = keep * kMaxBytesPerToken;
  std::vector<int32_t> ids;
  if (text.size() > 2 * window) {
    // The cut lies beyond the kept tokens, so they are encoded as in the whole text (up to
    // SentencePiece's per-line dummy prefix, which only touches the first piece after the cut).
    if (head > 0) tokenizer.encode_append(utf8_window(text, 0, window), ids);
    if (tail > 0) tokenizer.encode_append(utf8_window(text, text.size() - window, text.size()), ids);
  } else {
    ids = tokenizer.encode(text);
  }
  if (ids.size() <= keep) return ids;
  ids.erase(ids.begin() + head, ids.end() - tail);
  return ids;
}

}  // namespace

Tokenizer task_tokenizer(const TaskSetup& setup, const std::function<std::vector<std::string>()>& training_texts) {
  std::ostream& log = *setup.log;
  if (setup.restore_from) return checkpoint_tokenizer(*setup.restore_from);
  if (setup.init_from) {
    Tokenizer tokenizer = checkpoint_tokenizer(*setup.init_from);
    log << "tokenizer: from " << setup.init_from->dir.string() << ", " << tokenizer.vocab_size() << " pieces"
        << std::endl;
    return tokenizer;
  }
  const FinetuneConfig& config = *setup.config;
  Tokenizer tokenizer =
      train_tokenizer_on_texts(training_texts(), config.tokenizer, uint32_t(config.seed), setup.work_dir);
  log << "tokenizer: " << config.tokenizer.type << ", trained on the training split, " << tokenizer.vocab_size()
      << " pieces" << std::endl;
  return tokenizer;
}

CheckpointFile tokenizer_checkpoint_file(const Tokenizer& tokenizer) {
  return CheckpointFile::from_bytes(kTokenizerFile, tokenizer.model_bytes());
}

std::vector<int32_t> encode_truncated(const Tokenizer& tokenizer, std::string_view text, int64_t max_tokens,
                                      Truncation mode) {
  if (max_tokens <= 0) return {};
  const int64_t head = truncation_head(max_tokens, mode);
  return encode_ends(tokenizer, text, head, max_tokens - head);
}

std::vector<std::vector<int32_t>> encode_windows(const Tokenizer& tokenizer, std::string_view text,
                                                 int64_t window_tokens, int64_t max_windows, Truncation mode) {
  if (window_tokens <= 0) return {{}};
  // A text of n bytes has at most n + 1 tokens (the dummy prefix covers no byte), so more
  // windows than that could not be filled; the bound keeps the token counts below from
  // overflowing.
  const int64_t windows = std::min(max_windows, int64_t(text.size() / size_t(window_tokens)) + 2);
  const int64_t head_windows = mode == Truncation::kHead   ? windows
                               : mode == Truncation::kTail ? 0
                                                           : std::max<int64_t>(1, windows / 4);
  // One window keeps the token rule of encode_truncated: head_tail puts both ends in it.
  const int64_t head = windows == 1 ? truncation_head(window_tokens, mode) : head_windows * window_tokens;
  const std::vector<int32_t> ids = encode_ends(tokenizer, text, head, windows * window_tokens - head);
  std::vector<std::vector<int32_t>> result;
  for (size_t begin = 0; begin < ids.size(); begin += size_t(window_tokens)) {
    result.emplace_back(ids.begin() + long(begin), ids.begin() + long(std::min(ids.size(), begin + size_t(window_tokens))));
  }
  if (result.empty()) result.emplace_back();
  return result;
}

int32_t batch_pad_id(const Tokenizer& tokenizer) { return tokenizer.pad_id() >= 0 ? tokenizer.pad_id() : 0; }

std::vector<std::string> example_texts(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices,
                                       bool with_targets) {
  std::vector<std::string> texts;
  texts.reserve(indices.size() * (with_targets ? 2 : 1));
  for (size_t i : indices) {
    texts.push_back(examples[i].input);
    if (with_targets) texts.push_back(examples[i].target);
  }
  return texts;
}

int32_t argmax(const float* values, int64_t n) {
  return static_cast<int32_t>(std::max_element(values, values + n) - values);
}

int64_t counted_targets(const std::vector<int32_t>& targets) {
  return std::count_if(targets.begin(), targets.end(), [](int32_t t) { return t != kIgnoreIndex; });
}

Tokenizer train_tokenizer_on_texts(const std::vector<std::string>& texts, const TokenizerSection& section,
                                   uint32_t seed, const std::filesystem::path& scratch_dir,
                                   const std::string& section_name) {
  if (!section.model.empty()) return Tokenizer::load(section.model);
  try {
    return Tokenizer::train_on_texts(texts, tokenizer_config(section, seed), scratch_dir);
  } catch (const std::exception& e) {
    throw ConfigError(section_name + ": cannot train a tokenizer on the training split: " + e.what());
  }
}

}  // namespace tapelm
