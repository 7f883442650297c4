// build_or_load_shards: the key, the lookup, and building an entry in a temporary folder that
// is renamed into place.
#include <tapelm/data/token_cache/shard_cache.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <tapelm/data/atomic_file.h>
#include <tapelm/data/token_cache/cache_key.h>
#include <tapelm/data/token_cache/encode_corpus.h>
#include <tapelm/data/token_cache/shard_entry.h>
#include <tapelm/data/corpus.h>
#include <tapelm/data/hash.h>
#include <tapelm/data/tokenizer.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace tapelm {
namespace {

void validate(const ShardCacheConfig& config, bool separate_val) {
  if (!separate_val) validate(config.split);
  if (config.max_tokens_per_shard == 0) throw std::invalid_argument("data: max_tokens_per_shard must be positive");
  if (config.cache_dir.empty()) throw std::invalid_argument("data: cache_dir must not be empty");
}

// What a key and manifest record of the split: the config, or that the validation data are
// separate files.
json split_settings(const ValSplitConfig& config, bool separate_val) {
  if (separate_val) return json{{"mode", "separate files"}};
  return json{{"mode", split_mode_name(config.mode)}, {"val_fraction", config.val_fraction}};
}

// Every input the shards depend on, for the key and, with the manifest's own fields, for the
// manifest.
struct ShardInputs {
  json key;
  json manifest;
};

ShardInputs shard_inputs(const Corpus& corpus, const Corpus* val_corpus, const Tokenizer& tokenizer,
                         const ShardCacheConfig& config) {
  const json train = source_list(fingerprint(corpus));
  const json val = val_corpus ? source_list(fingerprint(*val_corpus)) : json::array();
  const json split = split_settings(config.split, val_corpus != nullptr);
  ShardInputs inputs;
  inputs.key = {
      {"format", "tapelm-shards"},
      {"version", kShardEntryVersion},
      {"invalid_utf8", enum_name(corpus.config().utf8)},
      {"val_invalid_utf8", val_corpus ? enum_name(val_corpus->config().utf8) : ""},
      {"train", train},
      {"val", val},
      {"split", split},
      {"tokenizer", hex64(tokenizer.model_hash())},
      {"max_tokens_per_shard", config.max_tokens_per_shard},
  };
  add_corpus_format(inputs.key, corpus);
  const bool records = corpus.config().format != CorpusFormat::kText;
  inputs.manifest = {
      {"document_format", records ? "<bos> text <eos> per record's '" + corpus.config().text_field +
                                        "' field, records in file order, files in corpus order"
                                  : "<bos> text <eos> per file, files in corpus order"},
      {"invalid_utf8", enum_name(corpus.config().utf8)},
      {"split", split},
      {"sources", {{"train", train}, {"val", val}}},
  };
  return inputs;
}

// Encodes, splits and writes the entry into a temporary folder, then renames it to `folder`.
void build_entry(const std::string& folder, const std::string& key, const json& manifest_inputs, const Corpus& corpus,
                 const Corpus* val_corpus, const Tokenizer& tokenizer, const ShardCacheConfig& config) {
  const EncodedCorpus encoded = encode_corpus(corpus, tokenizer);
  if (encoded.tokens.empty()) throw std::invalid_argument("data: the corpus has no text left after UTF-8 repair");
  EncodedCorpus encoded_val;
  TokenSplit split;
  if (val_corpus != nullptr) {
    encoded_val = encode_corpus(*val_corpus, tokenizer);
    split = separate_validation(encoded, encoded_val);
  } else {
    split = split_validation(encoded, config.split);
  }

  fs::create_directories(config.cache_dir);
  const std::string temp = temp_path_for(folder);
  fs::create_directories(temp);
  try {
    write_entry(temp, key, split, tokenizer, config.max_tokens_per_shard, manifest_inputs);
  } catch (...) {
    fs::remove_all(temp);
    throw;
  }
  if (::rename(temp.c_str(), folder.c_str()) != 0) {
    const int err = errno;
    fs::remove_all(temp);
    if (err != EEXIST && err != ENOTEMPTY) {
      throw std::runtime_error("data: cannot move '" + temp + "' to '" + folder + "': " + std::strerror(err));
    }
    // Another process finished the same entry first; theirs is identical.
  }
  sync_folder(config.cache_dir);
}

}  // namespace

ShardSet build_or_load_shards(const Corpus& corpus, const Corpus* val_corpus, const Tokenizer& tokenizer,
                              const ShardCacheConfig& config) {
  validate(config, val_corpus != nullptr);
  const ShardInputs inputs = shard_inputs(corpus, val_corpus, tokenizer, config);
  const std::string key = key_of(inputs.key);
  const std::string folder = (fs::path(config.cache_dir) / ("shards-" + key)).string();
  // The cache may be shared by several runs: only entries whose builder was killed go.
  remove_temporaries(config.cache_dir, StaleTemporaries::kOwnerGone);

  std::vector<std::string> warnings;
  if (fs::exists(folder)) {
    try {
      return load_entry(folder, key);
    } catch (const std::exception& e) {
      warnings.push_back("data: cache entry '" + folder + "' is unusable (" + e.what() + "); rebuilt it");
      fs::remove_all(folder);
    }
  }
  build_entry(folder, key, inputs.manifest, corpus, val_corpus, tokenizer, config);
  ShardSet set = load_entry(folder, key);
  set.built = true;
  set.warnings = std::move(warnings);
  return set;
}

}  // namespace tapelm
