// One shard cache entry on disk: a folder of train_NNNNN.bin / val_NNNNN.bin shards and the
// manifest.json that lists them with their token counts, the key and the inputs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include <tapelm/data/token_cache/shard_cache.h>
#include <tapelm/data/token_cache/val_split.h>

namespace tapelm {

class Tokenizer;

// The manifest's format version; part of every shard cache key, so a new layout never reads
// an old entry.
inline constexpr int kShardEntryVersion = 1;

// Writes `split` into the existing folder `folder` as shards of at most `max_tokens_per_shard`
// tokens, then the manifest naming `key`, the tokenizer, and the `inputs` (sources and
// settings, recorded for people reading the cache).
void write_entry(const std::string& folder, const std::string& key, const TokenSplit& split, const Tokenizer& tokenizer,
                 uint64_t max_tokens_per_shard, const nlohmann::json& inputs);

// Opens the finished entry `key` in `folder`, checking the manifest and every shard's header,
// checksum and token count; throws std::runtime_error when anything is off.
ShardSet load_entry(const std::string& folder, const std::string& key);

}  // namespace tapelm
