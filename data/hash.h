// Fast 64-bit content hash (XXH64, written here to avoid a dependency) for cache keys and
// shard checksums. Not cryptographic: it detects changed or corrupted data, not tampering.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tapelm {

// XXH64 of `size` bytes; bit-compatible with the reference implementation (xxhsum -H1).
uint64_t hash64(const void* data, size_t size, uint64_t seed = 0);
inline uint64_t hash64(std::string_view bytes, uint64_t seed = 0) {
  return hash64(bytes.data(), bytes.size(), seed);
}

// XXH64 of a whole file's contents (memory-mapped, no copy).
uint64_t hash_file(const std::string& path);

// 16 lowercase hex digits, zero-padded: the form used in cache file names and manifests.
std::string hex64(uint64_t value);

}  // namespace tapelm
