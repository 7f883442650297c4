// The cache folder: tokenizer models and train/validation token shards are built once and
// kept under a key hashed from every input (each corpus file's path, size and content hash,
// the UTF-8 policy, and the tokenizer settings or model bytes and split settings), so a
// later run with the same inputs only loads them, and any changed input builds anew.
// Entries are never overwritten, so stale ones stay until deleted by hand.
//
// Token stream: every document (one corpus file) becomes <bos> tokens... <eos>, and the
// documents follow each other in corpus order. Empty documents are left out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/shards.h"
#include "data/tokenizer.h"

namespace tapelm {

class Corpus;

// kTokens cuts the token stream: the last val_fraction of it is validation.
// kDocuments holds out round(val_fraction * documents) whole documents (at least one),
// chosen by a hash of their paths, so the choice is stable and spread over the corpus.
enum class SplitMode { kTokens, kDocuments };

// "tokens" | "documents"; throws std::invalid_argument listing the choices otherwise.
SplitMode parse_split_mode(std::string_view name);
const char* split_mode_name(SplitMode mode);

struct ValSplitConfig {
  double val_fraction = 0.05;  // in [0, 1); 0 = no validation split. Ignored with separate val files.
  SplitMode mode = SplitMode::kTokens;
};

struct ShardCacheConfig {
  std::string cache_dir = "data/cache";
  ValSplitConfig split;
  uint64_t max_tokens_per_shard = uint64_t{1} << 27;
  int num_threads = 0;  // encoding threads, 0 = all cores; the shards do not depend on it
};

struct ShardSet {
  TokenDataset train;
  TokenDataset val;  // empty when val_fraction is 0 and there are no val files
  std::string folder;  // cache_dir/shards-<key>, holding manifest.json and the .bin shards
  std::string key;     // 16 hex digits
  bool built = false;  // true: tokenised in this call; false: reused from the cache
  uint64_t train_documents = 0;
  uint64_t val_documents = 0;
};

// The encoded corpus: all documents' tokens back to back; document d is
// tokens[offsets[d], offsets[d + 1]).
struct EncodedCorpus {
  std::vector<int32_t> tokens;
  std::vector<uint64_t> offsets;
  std::vector<size_t> files;  // corpus file index of each (non-empty) document
};

// Encodes every document, with `num_threads` threads (0 = all cores). Documents are cut
// into chunks at line ends and encoded in parallel; the result does not depend on the
// thread count because the tokenizer encodes line by line. Requires an <eos> piece.
EncodedCorpus encode_corpus(const Corpus& corpus, const Tokenizer& tokenizer, int num_threads = 0);

// The tokenizer for `corpus` and `config`: trained and saved as
// <cache_dir>/tokenizer-<key>.model on the first call, loaded on later ones. `model_path`
// receives that path; `trained` tells which happened.
Tokenizer train_or_load_tokenizer(const Corpus& corpus, const TokenizerConfig& config, const std::string& cache_dir,
                                  std::string* model_path = nullptr, bool* trained = nullptr);

// Returns the shards for `corpus` (split per config.split), or for `corpus` as training
// data and `val_corpus` as validation data when val_corpus is given. Reuses a valid cache
// entry; a damaged one (bad manifest, missing or corrupt shard) is rebuilt. Safe when
// several processes build the same entry at once: each builds in its own temporary
// folder and the first rename wins.
ShardSet build_or_load_shards(const Corpus& corpus, const Corpus* val_corpus, const Tokenizer& tokenizer,
                              const ShardCacheConfig& config);

}  // namespace tapelm
