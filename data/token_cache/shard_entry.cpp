// Shard cache entries: writing shards and the manifest, and verified loading.
#include <tapelm/data/token_cache/shard_entry.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include <tapelm/data/atomic_file.h>
#include <tapelm/data/hash.h>
#include <tapelm/data/tokenizer.h>

using nlohmann::json;

namespace tapelm {
namespace {

// Writes spans as shards "<prefix>_00000.bin", ... of at most max_tokens each; returns the
// manifest entries.
json write_shards(const std::string& folder, const std::string& prefix, const std::vector<TokenSpan>& spans,
                  uint64_t vocab_size, uint64_t max_tokens) {
  json entries = json::array();
  for (const TokenSpan& span : spans) {
    for (size_t start = 0; start < span.size; start += max_tokens) {
      const size_t count = static_cast<size_t>(std::min<uint64_t>(max_tokens, span.size - start));
      char name[64];
      std::snprintf(name, sizeof name, "%s_%05zu.bin", prefix.c_str(), entries.size());
      write_shard(folder + "/" + name, vocab_size, span.data + start, count);
      entries.push_back({{"file", name}, {"tokens", count}});
    }
  }
  return entries;
}

TokenDataset open_split(const std::string& folder, const json& entries, bool verify) {
  std::vector<std::string> paths;
  for (const json& entry : entries) paths.push_back(folder + "/" + entry.at("file").get<std::string>());
  TokenDataset dataset(paths, verify);
  for (size_t i = 0; i < paths.size(); ++i) {
    const uint64_t expected = entries[i].at("tokens").get<uint64_t>();
    if (dataset.shards()[i].token_count() != expected) {
      throw std::runtime_error("token shard '" + paths[i] + "' has " + std::to_string(dataset.shards()[i].token_count()) +
                               " tokens, the manifest says " + std::to_string(expected));
    }
  }
  return dataset;
}

}  // namespace

void write_entry(const std::string& folder, const std::string& key, const TokenSplit& split, const Tokenizer& tokenizer,
                 uint64_t max_tokens_per_shard, const json& inputs) {
  const uint64_t vocab = static_cast<uint64_t>(tokenizer.vocab_size());
  json manifest = inputs;
  manifest.update({
      {"format", "tapelm-shards"},
      {"version", kShardEntryVersion},
      {"key", key},
      {"tokenizer", {{"hash", hex64(tokenizer.model_hash())}, {"vocab_size", vocab}}},
      {"dtype", dtype_for_vocab(vocab) == TokenDtype::kUint16 ? "uint16" : "uint32"},
      {"documents", {{"train", split.train_documents}, {"val", split.val_documents}}},
      {"shards",
       {{"train", write_shards(folder, "train", split.train, vocab, max_tokens_per_shard)},
        {"val", write_shards(folder, "val", split.val, vocab, max_tokens_per_shard)}}},
  });
  write_file_atomic(folder + "/manifest.json", manifest.dump(2) + "\n");
}

ShardSet load_entry(const std::string& folder, const std::string& key) {
  const std::string manifest_path = folder + "/manifest.json";
  json manifest;
  try {
    manifest = json::parse(read_file(manifest_path));
  } catch (const json::exception& e) {
    throw std::runtime_error("cannot parse '" + manifest_path + "': " + e.what());
  }
  if (manifest.value("format", "") != "tapelm-shards" || manifest.value("version", 0) != kShardEntryVersion ||
      manifest.value("key", "") != key) {
    throw std::runtime_error("'" + manifest_path + "' does not describe cache entry " + key);
  }
  ShardSet set;
  try {
    set.train = open_split(folder, manifest.at("shards").at("train"), true);
    set.val = open_split(folder, manifest.at("shards").at("val"), true);
    set.train_documents = manifest.at("documents").at("train").get<uint64_t>();
    set.val_documents = manifest.at("documents").at("val").get<uint64_t>();
  } catch (const json::exception& e) {
    throw std::runtime_error("'" + manifest_path + "' is missing fields: " + e.what());
  }
  set.folder = folder;
  set.key = key;
  return set;
}

}  // namespace tapelm
