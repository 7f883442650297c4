// Token shards: the encoded corpus as binary files, written once and memory-mapped for
// training. File layout (little-endian), a 64-byte header then the tokens:
//   0  char[8] magic "TPLMSHRD"
//   8  u32     format version (1)
//   12 u32     bytes per token: 2 (uint16, vocab <= 65536) or 4 (uint32)
//   16 u64     vocab size
//   24 u64     token count
//   32 u64     XXH64 of the token bytes
//   40 24 zero bytes (reserved)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tapelm/data/mapped_file.h>

namespace tapelm {

enum class TokenDtype : uint32_t { kUint16 = 2, kUint32 = 4 };

constexpr size_t kShardHeaderBytes = 64;
constexpr uint32_t kShardVersion = 1;

// uint16 when every id fits (vocab_size <= 65536), else uint32.
TokenDtype dtype_for_vocab(uint64_t vocab_size);

// Writes `count` tokens as one shard, atomically (temp file, fsync, rename). Throws
// std::invalid_argument naming the position of a token outside [0, vocab_size).
void write_shard(const std::string& path, uint64_t vocab_size, const int32_t* tokens, size_t count);

// A memory-mapped shard. Opening checks the header and that the file size matches the
// token count, throwing std::runtime_error naming the file when it is truncated or corrupt.
class ShardReader {
 public:
  explicit ShardReader(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint64_t token_count() const { return token_count_; }
  uint64_t vocab_size() const { return vocab_size_; }
  TokenDtype dtype() const { return dtype_; }
  uint64_t checksum() const { return checksum_; }

  int32_t at(uint64_t index) const;
  // Copies tokens [start, start + count) as int32; the range must lie inside the shard.
  void read(uint64_t start, size_t count, int32_t* out) const;
  // Reads every token: checks the checksum and that all ids are below vocab_size.
  void verify() const;

 private:
  const unsigned char* tokens() const { return file_.data() + kShardHeaderBytes; }

  MappedFile file_;
  TokenDtype dtype_ = TokenDtype::kUint16;
  uint64_t vocab_size_ = 0;
  uint64_t token_count_ = 0;
  uint64_t checksum_ = 0;
};

// Several shards read as one token stream (a window may span two shards). Copies are
// cheap and share the mappings, so samplers hold their own copy.
class TokenDataset {
 public:
  TokenDataset() = default;
  // Opens the shards in order; all must have the same vocab size. With `verify`, each
  // shard's checksum and id range are checked too.
  explicit TokenDataset(const std::vector<std::string>& paths, bool verify = false);

  uint64_t size() const { return starts_.empty() ? 0 : starts_.back(); }
  bool empty() const { return size() == 0; }
  uint64_t vocab_size() const { return vocab_size_; }
  const std::vector<ShardReader>& shards() const;

  // Copies tokens [start, start + count) into out; throws std::out_of_range past the end.
  void read(uint64_t start, size_t count, int32_t* out) const;

 private:
  std::shared_ptr<const std::vector<ShardReader>> shards_;
  std::vector<uint64_t> starts_;  // starts_[i] = first token of shard i; back() = total
  uint64_t vocab_size_ = 0;
};

}  // namespace tapelm
