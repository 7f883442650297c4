// Read-only memory map of a whole file (RAII): the zero-copy way to hash and read shards.
#pragma once

#include <cstddef>
#include <string>

namespace tapelm {

class MappedFile {
 public:
  // Maps `path` read-only; throws std::runtime_error naming the file if it cannot be
  // opened or mapped. An empty file maps to size() == 0 and a null data().
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release();

  std::string path_;
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tapelm
