// The cache: input fingerprints and keys, the tokenizer entry, and for shards parallel
// encoding, the train/val split, writing into a temporary folder, the manifest, and
// validation of an existing entry.
#include "data/cache.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "data/atomic_file.h"
#include "data/corpus.h"
#include "data/hash.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tapelm {
namespace {

constexpr int kManifestVersion = 1;
constexpr size_t kBatchBytes = size_t{32} << 20;  // text read per parallel encoding round
constexpr size_t kChunkBytes = size_t{64} << 10;  // unit of parallel work, cut at a line end

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

// Runs body(i) for i in [0, count) on `threads` threads. Work is handed out dynamically,
// which is fine for determinism because each i writes only its own slot.
template <typename Body>
void parallel_for(size_t count, int threads, const Body& body) {
  const size_t workers = std::min<size_t>(static_cast<size_t>(threads), count);
  if (workers <= 1) {
    for (size_t i = 0; i < count; ++i) body(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    try {
      for (size_t i = next++; i < count; i = next++) body(i);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next = count;
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (std::thread& thread : pool) thread.join();
  if (error) std::rethrow_exception(error);
}

struct FileFingerprint {
  std::string path;
  uint64_t size;
  uint64_t hash;
};

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

json split_settings(const ShardCacheConfig& config, bool separate_val) {
  if (separate_val) return json{{"mode", "separate files"}};
  return json{{"mode", split_mode_name(config.split.mode)}, {"val_fraction", config.split.val_fraction}};
}

// Keys hash a JSON rendering of every input (doubles print with round-trip precision).
std::string key_of(const json& inputs) { return hex64(hash64(inputs.dump())); }

std::string shards_key(const Corpus& corpus, const std::vector<FileFingerprint>& train_files, const Corpus* val_corpus,
                       const std::vector<FileFingerprint>& val_files, const Tokenizer& tokenizer,
                       const ShardCacheConfig& config) {
  return key_of({
      {"format", "tapelm-shards"},
      {"version", kManifestVersion},
      {"invalid_utf8", enum_name(corpus.config().utf8)},
      {"val_invalid_utf8", val_corpus ? enum_name(val_corpus->config().utf8) : ""},
      {"train", source_list(train_files)},
      {"val", source_list(val_files)},
      {"split", split_settings(config, val_corpus != nullptr)},
      {"tokenizer", hex64(tokenizer.model_hash())},
      {"max_tokens_per_shard", config.max_tokens_per_shard},
  });
}

std::string tokenizer_key(const Corpus& corpus, const TokenizerConfig& c) {
  return key_of({
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
  });
}

void validate(const ShardCacheConfig& config, bool separate_val) {
  const double f = config.split.val_fraction;
  if (!separate_val && !(f >= 0.0 && f < 1.0)) {
    throw std::invalid_argument("data split: val_fraction " + json(f).dump() + " must be in [0, 1)");
  }
  if (config.max_tokens_per_shard == 0) throw std::invalid_argument("data: max_tokens_per_shard must be positive");
  if (config.cache_dir.empty()) throw std::invalid_argument("data: cache_dir must not be empty");
}

// A contiguous token range to be written as one or more shards.
struct Span {
  const int32_t* data;
  size_t size;
};

struct Split {
  std::vector<Span> train, val;  // spans point into `EncodedCorpus::tokens` or `gathered`
  uint64_t train_documents = 0, val_documents = 0;
  std::vector<int32_t> gathered_train, gathered_val;
};

Split split_by_tokens(const EncodedCorpus& encoded, double fraction) {
  Split split;
  const size_t total = encoded.tokens.size();
  const auto val_tokens = static_cast<size_t>(std::llround(fraction * static_cast<double>(total)));
  if (fraction > 0.0 && val_tokens < 2) {
    throw std::invalid_argument("data split: val_fraction " + json(fraction).dump() + " of " +
                                std::to_string(total) + " tokens leaves " + std::to_string(val_tokens) +
                                " validation tokens; need at least 2 (raise val_fraction or add text)");
  }
  const size_t cut = total - val_tokens;
  split.train.push_back({encoded.tokens.data(), cut});
  if (val_tokens > 0) split.val.push_back({encoded.tokens.data() + cut, val_tokens});
  // Documents are counted by where they start.
  const auto starts_before_cut = std::lower_bound(encoded.offsets.begin(), encoded.offsets.end() - 1, cut);
  split.train_documents = static_cast<uint64_t>(starts_before_cut - encoded.offsets.begin());
  split.val_documents = encoded.files.size() - split.train_documents;
  return split;
}

Split split_by_documents(const EncodedCorpus& encoded, const Corpus& corpus, double fraction) {
  Split split;
  const size_t documents = encoded.files.size();
  if (fraction == 0.0) {
    split.train.push_back({encoded.tokens.data(), encoded.tokens.size()});
    split.train_documents = documents;
    return split;
  }
  const size_t val_count = std::max<size_t>(1, static_cast<size_t>(std::llround(fraction * documents)));
  if (val_count >= documents) {
    throw std::invalid_argument("data split: holding out " + std::to_string(val_count) + " of " +
                                std::to_string(documents) + " documents leaves none for training; split by "
                                "documents needs more documents (or use mode 'tokens')");
  }
  std::vector<size_t> order(documents);
  std::vector<uint64_t> keys(documents);
  for (size_t d = 0; d < documents; ++d) {
    order[d] = d;
    keys[d] = hash64(corpus.files()[encoded.files[d]].path);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] != keys[b] ? keys[a] < keys[b] : a < b; });
  std::vector<bool> is_val(documents, false);
  for (size_t i = 0; i < val_count; ++i) is_val[order[i]] = true;
  for (size_t d = 0; d < documents; ++d) {
    std::vector<int32_t>& target = is_val[d] ? split.gathered_val : split.gathered_train;
    target.insert(target.end(), encoded.tokens.begin() + static_cast<ptrdiff_t>(encoded.offsets[d]),
                  encoded.tokens.begin() + static_cast<ptrdiff_t>(encoded.offsets[d + 1]));
  }
  split.train.push_back({split.gathered_train.data(), split.gathered_train.size()});
  split.val.push_back({split.gathered_val.data(), split.gathered_val.size()});
  split.train_documents = documents - val_count;
  split.val_documents = val_count;
  return split;
}

// Writes spans as shards "<prefix>_00000.bin", ... of at most max_tokens each; returns the
// manifest entries.
json write_shards(const std::string& folder, const std::string& prefix, const std::vector<Span>& spans,
                  uint64_t vocab_size, uint64_t max_tokens) {
  json entries = json::array();
  for (const Span& span : spans) {
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

// Opens a finished cache entry, checking it end to end; throws when anything is off.
ShardSet load_entry(const std::string& folder, const std::string& key) {
  const std::string manifest_path = folder + "/manifest.json";
  json manifest;
  try {
    manifest = json::parse(read_file(manifest_path));
  } catch (const json::exception& e) {
    throw std::runtime_error("cannot parse '" + manifest_path + "': " + e.what());
  }
  if (manifest.value("format", "") != "tapelm-shards" || manifest.value("version", 0) != kManifestVersion ||
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

}  // namespace

SplitMode parse_split_mode(std::string_view name) {
  if (name == "tokens") return SplitMode::kTokens;
  if (name == "documents") return SplitMode::kDocuments;
  throw std::invalid_argument("split mode '" + std::string(name) + "' is not one of: tokens, documents");
}

const char* split_mode_name(SplitMode mode) { return mode == SplitMode::kTokens ? "tokens" : "documents"; }

EncodedCorpus encode_corpus(const Corpus& corpus, const Tokenizer& tokenizer, int num_threads) {
  if (tokenizer.eos_id() < 0) {
    throw std::invalid_argument("encode_corpus: the tokenizer model has no <eos> piece, needed to end documents");
  }
  const int threads = resolve_threads(num_threads);
  EncodedCorpus out;
  out.offsets.push_back(0);
  struct Chunk {
    size_t document;  // index into `texts`
    std::string_view text;
  };
  size_t next_file = 0;
  while (next_file < corpus.size()) {
    std::vector<std::string> texts;
    std::vector<size_t> files;
    size_t batch_bytes = 0;
    while (next_file < corpus.size() && batch_bytes < kBatchBytes) {
      std::string text = corpus.read(next_file);
      if (!text.empty()) {
        batch_bytes += text.size();
        texts.push_back(std::move(text));
        files.push_back(next_file);
      }
      ++next_file;
    }
    // Line-wise encoding makes a cut after any "\n" invisible in the output; a model without
    // the "\n" piece sees each document whole.
    std::vector<Chunk> chunks;
    for (size_t d = 0; d < texts.size(); ++d) {
      const std::string_view text = texts[d];
      size_t pos = 0;
      while (pos < text.size()) {
        size_t end = text.size();
        if (tokenizer.newline_id() >= 0 && text.size() - pos > kChunkBytes) {
          const size_t newline = text.find('\n', pos + kChunkBytes);
          if (newline != std::string_view::npos) end = newline + 1;
        }
        chunks.push_back({d, text.substr(pos, end - pos)});
        pos = end;
      }
    }
    std::vector<std::vector<int32_t>> encoded(chunks.size());
    parallel_for(chunks.size(), threads, [&](size_t i) { tokenizer.encode_append(chunks[i].text, encoded[i]); });
    for (size_t i = 0; i < chunks.size(); ++i) {
      const bool first = i == 0 || chunks[i - 1].document != chunks[i].document;
      const bool last = i + 1 == chunks.size() || chunks[i + 1].document != chunks[i].document;
      if (first && tokenizer.bos_id() >= 0) out.tokens.push_back(tokenizer.bos_id());
      out.tokens.insert(out.tokens.end(), encoded[i].begin(), encoded[i].end());
      std::vector<int32_t>().swap(encoded[i]);
      if (last) {
        out.tokens.push_back(tokenizer.eos_id());
        out.offsets.push_back(out.tokens.size());
        out.files.push_back(files[chunks[i].document]);
      }
    }
  }
  return out;
}

Tokenizer train_or_load_tokenizer(const Corpus& corpus, const TokenizerConfig& config, const std::string& cache_dir,
                                  std::string* model_path, bool* trained) {
  const std::string path = (fs::path(cache_dir) / ("tokenizer-" + tokenizer_key(corpus, config) + ".model")).string();
  if (model_path != nullptr) *model_path = path;
  if (fs::exists(path)) {
    try {
      Tokenizer tokenizer = Tokenizer::load(path);
      if (trained != nullptr) *trained = false;
      return tokenizer;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "data: cached tokenizer '%s' is unusable (%s); training again\n", path.c_str(), e.what());
    }
  }
  Tokenizer tokenizer = Tokenizer::train(corpus, config);
  fs::create_directories(cache_dir);
  tokenizer.save(path);
  if (trained != nullptr) *trained = true;
  return tokenizer;
}

ShardSet build_or_load_shards(const Corpus& corpus, const Corpus* val_corpus, const Tokenizer& tokenizer,
                              const ShardCacheConfig& config) {
  validate(config, val_corpus != nullptr);
  const std::vector<FileFingerprint> train_files = fingerprint(corpus);
  const std::vector<FileFingerprint> val_files = val_corpus ? fingerprint(*val_corpus) : std::vector<FileFingerprint>{};
  const std::string key = shards_key(corpus, train_files, val_corpus, val_files, tokenizer, config);
  const std::string folder = (fs::path(config.cache_dir) / ("shards-" + key)).string();
  // The cache may be shared by several runs: only entries whose builder was killed go.
  remove_temporaries(config.cache_dir, StaleTemporaries::kOwnerGone);

  if (fs::exists(folder)) {
    try {
      return load_entry(folder, key);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "data: cache entry '%s' is unusable (%s); rebuilding it\n", folder.c_str(), e.what());
      fs::remove_all(folder);
    }
  }

  const EncodedCorpus encoded = encode_corpus(corpus, tokenizer, config.num_threads);
  if (encoded.tokens.empty()) throw std::invalid_argument("data: the corpus has no text left after UTF-8 repair");
  EncodedCorpus encoded_val;
  Split split;
  if (val_corpus != nullptr) {
    encoded_val = encode_corpus(*val_corpus, tokenizer, config.num_threads);
    split.train.push_back({encoded.tokens.data(), encoded.tokens.size()});
    split.val.push_back({encoded_val.tokens.data(), encoded_val.tokens.size()});
    split.train_documents = encoded.files.size();
    split.val_documents = encoded_val.files.size();
  } else if (config.split.mode == SplitMode::kTokens) {
    split = split_by_tokens(encoded, config.split.val_fraction);
  } else {
    split = split_by_documents(encoded, corpus, config.split.val_fraction);
  }

  fs::create_directories(config.cache_dir);
  const std::string temp = temp_path_for(folder);
  fs::create_directories(temp);
  try {
    const uint64_t vocab = static_cast<uint64_t>(tokenizer.vocab_size());
    const json train_shards = write_shards(temp, "train", split.train, vocab, config.max_tokens_per_shard);
    const json val_shards = write_shards(temp, "val", split.val, vocab, config.max_tokens_per_shard);
    const json manifest = {
        {"format", "tapelm-shards"},
        {"version", kManifestVersion},
        {"key", key},
        {"tokenizer", {{"hash", hex64(tokenizer.model_hash())}, {"vocab_size", vocab}}},
        {"document_format", "<bos> text <eos> per file, files in corpus order"},
        {"dtype", dtype_for_vocab(vocab) == TokenDtype::kUint16 ? "uint16" : "uint32"},
        {"invalid_utf8", enum_name(corpus.config().utf8)},
        {"split", split_settings(config, val_corpus != nullptr)},
        {"sources", {{"train", source_list(train_files)}, {"val", source_list(val_files)}}},
        {"documents", {{"train", split.train_documents}, {"val", split.val_documents}}},
        {"shards", {{"train", train_shards}, {"val", val_shards}}},
    };
    write_file_atomic(temp + "/manifest.json", manifest.dump(2) + "\n");
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
  ShardSet set = load_entry(folder, key);
  set.built = true;
  return set;
}

}  // namespace tapelm
