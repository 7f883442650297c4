// The data pipeline the trainer calls: corpus -> tokenizer (loaded, or trained once and
// cached) -> train/validation token shards (built once and cached).
#pragma once

#include <string>
#include <vector>

#include <tapelm/data/token_cache/shard_cache.h>
#include <tapelm/data/corpus.h>
#include <tapelm/data/tokenizer.h>

namespace tapelm {

struct DataConfig {
  CorpusConfig corpus;
  // Separate validation files (files, folders or patterns, read with corpus.extensions and
  // corpus.utf8). When given, the whole corpus is training data and
  // shards.split is ignored.
  std::vector<std::string> val_sources;
  // An existing sentencepiece .model to use; when empty, one is trained with `tokenizer`
  // on the training corpus and cached as <cache_dir>/tokenizer-<key>.model.
  std::string tokenizer_model;
  TokenizerConfig tokenizer;
  ShardCacheConfig shards;  // cache_dir, split, shard size
};

struct PreparedData {
  Tokenizer tokenizer;
  std::string tokenizer_path;   // the .model file in use (save a copy beside checkpoints)
  bool tokenizer_trained = false;  // false: loaded from tokenizer_model or the cache
  ShardSet shards;               // shards.train / shards.val feed the samplers
  // For the caller to show: cache entries found unusable and rebuilt.
  std::vector<std::string> warnings;
};

PreparedData prepare_data(const DataConfig& config);

}  // namespace tapelm
