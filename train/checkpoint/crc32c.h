// CRC-32C (Castagnoli polynomial, reflected 0x82F63B78), the checksum of checkpoint files.
// Chosen over an ad-hoc 64-bit hash because it is a standard (iSCSI, ext4, Btrfs) with
// published test vectors, and x86-64 has an instruction for it (SSE4.2), so verifying a
// large checkpoint costs little more than reading it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tapelm {

// Extends `crc` (the CRC of the bytes so far; 0 for none) by `size` more bytes, so
// crc32c_update(crc32c_update(0, a), b) == CRC of a followed by b.
uint32_t crc32c_update(uint32_t crc, const void* data, size_t size);
inline uint32_t crc32c(const void* data, size_t size) { return crc32c_update(0, data, size); }

// The table-driven version, used when the CPU instruction is not compiled in; exposed so
// tests can check both give the same answers.
uint32_t crc32c_update_portable(uint32_t crc, const void* data, size_t size);

}  // namespace tapelm
