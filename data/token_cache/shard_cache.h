// The shard cache: train/validation token shards are built once under
// <cache_dir>/shards-<key> and loaded by later runs. The key hashes every input (each corpus
// file's path, size and content hash, the UTF-8 policy, the tokenizer model bytes, the split
// settings and the shard size), so any changed input builds anew. Entries are never
// overwritten; stale ones stay until deleted by hand.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapelm/data/token_cache/val_split.h>
#include <tapelm/data/shards.h>

namespace tapelm {

class Corpus;
class Tokenizer;

struct ShardCacheConfig {
  std::string cache_dir = "data/cache";
  ValSplitConfig split;
  uint64_t max_tokens_per_shard = uint64_t{1} << 27;
};

struct ShardSet {
  TokenDataset train;
  TokenDataset val;  // empty when val_fraction is 0 and there are no val files
  std::string folder;  // cache_dir/shards-<key>, holding manifest.json and the .bin shards
  std::string key;     // 16 hex digits
  bool built = false;  // true: tokenised in this call; false: reused from the cache
  uint64_t train_documents = 0;
  uint64_t val_documents = 0;
  // What the caller should tell the user, e.g. that a damaged entry was rebuilt.
  std::vector<std::string> warnings;
};

// Returns the shards for `corpus` (split per config.split), or for `corpus` as training
// data and `val_corpus` as validation data when val_corpus is given. Reuses a valid cache
// entry; a damaged one (bad manifest, missing or corrupt shard) is rebuilt, with a warning in
// the result. Safe when several processes build the same entry at once: each builds in its
// own temporary folder and the first rename wins. Encodes on the OpenMP threads; the shards
// do not depend on their number.
ShardSet build_or_load_shards(const Corpus& corpus, const Corpus* val_corpus, const Tokenizer& tokenizer,
                              const ShardCacheConfig& config);

}  // namespace tapelm
