// Cache keys from file fingerprints and settings.
#include <tapelm/data/token_cache/cache_key.h>

#include <tapelm/data/corpus.h>
#include <tapelm/data/hash.h>
#include <tapelm/data/tokenizer.h>

using nlohmann::json;

namespace tapelm {

std::vector<FileFingerprint> fingerprint(const Corpus& corpus) {
  std::vector<FileFingerprint> out;
  for (const CorpusFile& file : corpus.files()) out.push_back({file.path, file.size, hash_file(file.path)});
  return out;
}

json source_list(const std::vector<FileFingerprint>& files) {
  json out = json::array();
  for (const FileFingerprint& file : files) {
    out.push_back({{"path", file.path}, {"size", file.size}, {"hash", hex64(file.hash)}});
  }
  return out;
}

void add_corpus_format(json& inputs, const Corpus& corpus) {
  const CorpusConfig& config = corpus.config();
  if (config.format == CorpusFormat::kText) return;
  inputs["corpus_format"] = {{"format", enum_name(config.format)}, {"text_field", config.text_field}};
}

std::string key_of(const json& inputs) { return hex64(hash64(inputs.dump())); }

std::string tokenizer_key(const Corpus& corpus, const TokenizerConfig& c) {
  json inputs = {
      {"format", "tapelm-tokenizer"},
      {"version", 1},
      {"invalid_utf8", enum_name(corpus.config().utf8)},
      {"train", source_list(fingerprint(corpus))},
      {"config",
       {{"model_type", enum_name(c.type)},
        {"vocab_size", c.vocab_size},
        {"character_coverage", c.character_coverage},
        {"byte_fallback", c.byte_fallback},
        {"split_digits", c.split_digits},
        {"normalization", c.normalization},
        {"input_sentence_size", c.max_sentences},
        {"max_sentence_length", c.max_sentence_length},
        {"num_threads", c.num_threads},
        {"seed", c.seed},
        {"user_defined_symbols", c.user_defined_symbols}}},
  };
  add_corpus_format(inputs, corpus);
  return key_of(inputs);
}

}  // namespace tapelm
