// Training a tokenizer on in-memory texts through a scratch corpus file.
#include "train/tasks/finetune_tokenizer.h"

#include <fstream>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

#include "data/corpus.h"
#include "train/config/errors.h"

namespace tapelm {
namespace fs = std::filesystem;

TokenizerConfig tokenizer_config(const TokenizerSection& t, uint32_t seed) {
  TokenizerConfig config;
  config.type = config_enum<TokenizerType>("tokenizer.type", t.type);
  config.vocab_size = static_cast<int>(t.vocab_size);
  config.character_coverage = t.character_coverage;
  config.byte_fallback = t.byte_fallback;
  config.max_sentences = static_cast<uint64_t>(t.max_sentences);
  config.num_threads = 1;
  config.seed = seed;
  return config;
}

Tokenizer train_tokenizer_on_texts(const std::vector<std::string>& texts, const TokenizerSection& section,
                                   uint32_t seed, const fs::path& scratch_dir, const std::string& section_name) {
  if (!section.model.empty()) return Tokenizer::load(section.model);
  fs::create_directories(scratch_dir);
  const fs::path file = scratch_dir / (".tokenizer_texts_" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    for (const std::string& text : texts) out << text << '\n';
    if (!out) throw std::runtime_error(file.string() + ": cannot write the tokenizer training texts");
  }
  // Removes the scratch file however training ends.
  struct Remove {
    fs::path path;
    ~Remove() {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  } remove{file};
  CorpusConfig corpus;
  corpus.sources = {file.string()};
  try {
    return Tokenizer::train(Corpus(corpus), tokenizer_config(section, seed));
  } catch (const std::exception& e) {
    throw ConfigError(section_name + ": cannot train a tokenizer on the training split: " + e.what());
  }
}

}  // namespace tapelm
