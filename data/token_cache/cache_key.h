// Cache keys: a 16-hex-digit hash of a JSON rendering of every input an entry depends on, so
// any changed input (a corpus file's path, size or content, a setting, the tokenizer model)
// names a new entry.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tapelm {

class Corpus;
struct TokenizerConfig;

struct FileFingerprint {
  std::string path;
  uint64_t size;
  uint64_t hash;  // XXH64 of the contents
};

std::vector<FileFingerprint> fingerprint(const Corpus& corpus);

// [{"path", "size", "hash"}, ...] as keys and manifests list the sources.
nlohmann::json source_list(const std::vector<FileFingerprint>& files);

// Adds the corpus format and text field to `inputs` unless the format is text, so that keys
// of plain-text corpora stay what they were before records could be read.
void add_corpus_format(nlohmann::json& inputs, const Corpus& corpus);

// hex64 of the hash of `inputs.dump()` (doubles print with round-trip precision).
std::string key_of(const nlohmann::json& inputs);

// The key of the tokenizer trained on `corpus` with `config`.
std::string tokenizer_key(const Corpus& corpus, const TokenizerConfig& config);

}  // namespace tapelm
