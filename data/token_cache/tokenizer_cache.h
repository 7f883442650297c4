// The tokenizer cache: a tokenizer trained on a corpus is saved as
// <cache_dir>/tokenizer-<key>.model, the key hashing every corpus file's fingerprint, the
// UTF-8 policy and every tokenizer setting, and loaded by later runs with the same inputs.
#pragma once

#include <string>
#include <vector>

#include <tapelm/data/tokenizer.h>

namespace tapelm {

class Corpus;

struct CachedTokenizer {
  Tokenizer tokenizer;
  std::string path;    // <cache_dir>/tokenizer-<key>.model
  bool trained = false;  // true: trained in this call; false: loaded from the cache
  // What the caller should tell the user, e.g. that an unusable cached model was retrained.
  std::vector<std::string> warnings;
};

// The tokenizer for `corpus` and `config`: trained and saved on the first call, loaded on
// later ones.
CachedTokenizer train_or_load_tokenizer(const Corpus& corpus, const TokenizerConfig& config,
                                        const std::string& cache_dir);

}  // namespace tapelm
