// Crash-safe file writing: data goes to a temporary file beside the target, is fsync'ed,
// then renamed over the target, so readers see either the old file or the complete new one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tapelm {

class AtomicFile {
 public:
  // Creates the temporary file (parent folders must exist); throws naming `path`.
  explicit AtomicFile(std::string path);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  // Overwrites bytes already written (used to fill in a header once sizes are known).
  void write_at(uint64_t offset, const void* data, size_t size);
  // fsync, rename onto the target, fsync the folder.
  void commit();

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
};

// Writes `bytes` to `path` atomically (see AtomicFile).
void write_file_atomic(const std::string& path, std::string_view bytes);

// fsync a folder so renames inside it survive a crash (best effort: errors are ignored).
void sync_folder(const std::string& folder);

// Reads a whole file into a string; throws naming the file when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace tapelm
