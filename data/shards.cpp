// Shard writing (validated, converted to the narrowest dtype, checksummed) and mapped reading.
#include <tapelm/data/shards.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <tapelm/data/atomic_file.h>
#include <tapelm/data/hash.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "token shards are little-endian; this build targets a big-endian host"
#endif

namespace tapelm {
namespace {

constexpr char kMagic[8] = {'T', 'P', 'L', 'M', 'S', 'H', 'R', 'D'};

struct RawHeader {
  char magic[8];
  uint32_t version;
  uint32_t token_bytes;
  uint64_t vocab_size;
  uint64_t token_count;
  uint64_t checksum;
  unsigned char reserved[24];
};
static_assert(sizeof(RawHeader) == kShardHeaderBytes, "shard header must be 64 bytes");

template <typename T>
std::vector<T> narrow(const int32_t* tokens, size_t count, uint64_t vocab_size, const std::string& path) {
  std::vector<T> out(count);
  for (size_t i = 0; i < count; ++i) {
    const int32_t id = tokens[i];
    if (id < 0 || static_cast<uint64_t>(id) >= vocab_size) {
      throw std::invalid_argument("write_shard '" + path + "': token " + std::to_string(i) + " is " +
                                  std::to_string(id) + ", outside the vocabulary [0, " +
                                  std::to_string(vocab_size) + ")");
    }
    out[i] = static_cast<T>(id);
  }
  return out;
}

template <typename T>
void write_tokens(const std::string& path, uint64_t vocab_size, const int32_t* tokens, size_t count) {
  const std::vector<T> narrowed = narrow<T>(tokens, count, vocab_size, path);
  RawHeader header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.version = kShardVersion;
  header.token_bytes = sizeof(T);
  header.vocab_size = vocab_size;
  header.token_count = count;
  header.checksum = hash64(narrowed.data(), count * sizeof(T));
  AtomicFile file(path);
  file.write(&header, sizeof header);
  file.write(narrowed.data(), count * sizeof(T));
  file.commit();
}

std::runtime_error corrupt(const std::string& path, const std::string& what) {
  return std::runtime_error("token shard '" + path + "' is " + what);
}

}  // namespace

TokenDtype dtype_for_vocab(uint64_t vocab_size) {
  return vocab_size <= 65536 ? TokenDtype::kUint16 : TokenDtype::kUint32;
}

void write_shard(const std::string& path, uint64_t vocab_size, const int32_t* tokens, size_t count) {
  if (vocab_size == 0) throw std::invalid_argument("write_shard '" + path + "': vocab_size must be positive");
  if (dtype_for_vocab(vocab_size) == TokenDtype::kUint16) {
    write_tokens<uint16_t>(path, vocab_size, tokens, count);
  } else {
    write_tokens<uint32_t>(path, vocab_size, tokens, count);
  }
}

ShardReader::ShardReader(const std::string& path) : file_(path) {
  if (file_.size() < kShardHeaderBytes) {
    throw corrupt(path, "truncated: " + std::to_string(file_.size()) + " bytes, shorter than the " +
                            std::to_string(kShardHeaderBytes) + "-byte header");
  }
  RawHeader header;
  std::memcpy(&header, file_.data(), sizeof header);
  if (std::memcmp(header.magic, kMagic, sizeof kMagic) != 0) {
    throw corrupt(path, "not a tapelm token shard (magic is not \"TPLMSHRD\")");
  }
  if (header.version != kShardVersion) {
    throw corrupt(path, "format version " + std::to_string(header.version) + ", this build reads version " +
                            std::to_string(kShardVersion));
  }
  if (header.token_bytes != 2 && header.token_bytes != 4) {
    throw corrupt(path, "corrupt: token width " + std::to_string(header.token_bytes) + " bytes (expected 2 or 4)");
  }
  if (header.vocab_size == 0 || header.token_bytes != static_cast<uint32_t>(dtype_for_vocab(header.vocab_size))) {
    throw corrupt(path, "corrupt: vocab size " + std::to_string(header.vocab_size) + " does not fit token width " +
                            std::to_string(header.token_bytes));
  }
  const uint64_t payload = file_.size() - kShardHeaderBytes;
  const uint64_t room = payload / header.token_bytes;
  if (header.token_count > room) {
    throw corrupt(path, "truncated: header says " + std::to_string(header.token_count) + " tokens, but the " +
                            std::to_string(payload) + " bytes after the header hold only " + std::to_string(room));
  }
  if (payload != header.token_count * header.token_bytes) {
    throw corrupt(path, "corrupt: " + std::to_string(payload - header.token_count * header.token_bytes) +
                            " unexpected bytes after the " + std::to_string(header.token_count) + " tokens");
  }
  dtype_ = static_cast<TokenDtype>(header.token_bytes);
  vocab_size_ = header.vocab_size;
  token_count_ = header.token_count;
  checksum_ = header.checksum;
}

int32_t ShardReader::at(uint64_t index) const {
  int32_t value;
  read(index, 1, &value);
  return value;
}

void ShardReader::read(uint64_t start, size_t count, int32_t* out) const {
  if (start > token_count_ || count > token_count_ - start) {
    throw std::out_of_range("token shard '" + path() + "': tokens [" + std::to_string(start) + ", " +
                            std::to_string(start + count) + ") requested, shard has " + std::to_string(token_count_));
  }
  // The header is 64 bytes and mappings are page-aligned, so the token array is aligned.
  if (dtype_ == TokenDtype::kUint16) {
    const auto* src = reinterpret_cast<const uint16_t*>(tokens()) + start;
    std::copy(src, src + count, out);
  } else {
    const auto* src = reinterpret_cast<const uint32_t*>(tokens()) + start;
    std::copy(src, src + count, out);
  }
}

void ShardReader::verify() const {
  const size_t bytes = token_count_ * static_cast<uint32_t>(dtype_);
  if (hash64(tokens(), bytes) != checksum_) throw corrupt(path(), "corrupt: token checksum mismatch");
  const auto check = [&](auto* src) {
    const auto* bad = std::find_if(src, src + token_count_, [&](uint64_t id) { return id >= vocab_size_; });
    if (bad != src + token_count_) {
      throw corrupt(path(), "corrupt: token " + std::to_string(bad - src) + " is " + std::to_string(*bad) +
                                ", outside the vocabulary of " + std::to_string(vocab_size_));
    }
  };
  if (dtype_ == TokenDtype::kUint16) {
    check(reinterpret_cast<const uint16_t*>(tokens()));
  } else {
    check(reinterpret_cast<const uint32_t*>(tokens()));
  }
}

TokenDataset::TokenDataset(const std::vector<std::string>& paths, bool verify) {
  auto shards = std::make_shared<std::vector<ShardReader>>();
  shards->reserve(paths.size());
  starts_.push_back(0);
  for (const std::string& path : paths) {
    shards->emplace_back(path);
    const ShardReader& shard = shards->back();
    if (verify) shard.verify();
    if (vocab_size_ == 0) vocab_size_ = shard.vocab_size();
    if (shard.vocab_size() != vocab_size_) {
      throw std::runtime_error("token shard '" + path + "' has vocab size " + std::to_string(shard.vocab_size()) +
                               ", but '" + shards->front().path() + "' has " + std::to_string(vocab_size_));
    }
    starts_.push_back(starts_.back() + shard.token_count());
  }
  shards_ = std::move(shards);
}

const std::vector<ShardReader>& TokenDataset::shards() const {
  static const std::vector<ShardReader> kNone;
  return shards_ ? *shards_ : kNone;
}

void TokenDataset::read(uint64_t start, size_t count, int32_t* out) const {
  const uint64_t total = size();
  if (start > total || count > total - start) {
    throw std::out_of_range("token dataset: tokens [" + std::to_string(start) + ", " + std::to_string(start + count) +
                            ") requested, dataset has " + std::to_string(total));
  }
  // Shard holding `start`: the last one whose first token is <= start.
  size_t shard = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), start) - starts_.begin()) - 1;
  while (count > 0) {
    const ShardReader& reader = (*shards_)[shard];
    const uint64_t offset = start - starts_[shard];
    const size_t n = static_cast<size_t>(std::min<uint64_t>(count, reader.token_count() - offset));
    reader.read(offset, n, out);
    out += n;
    start += n;
    count -= n;
    ++shard;
  }
}

}  // namespace tapelm
