// Crash-safe file writing: data goes to a temporary file beside the target, is fsync'ed,
// then renamed over the target, so readers see either the old file or the complete new one.
// Every temporary file or folder tapelm creates is named by temp_path_for, so leftovers of a
// killed process are recognised (temp_owner) and removed (remove_temporaries).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// A fresh temporary name beside `target`: "<folder>/.<name>.tapelm-tmp.<pid>.<n>", unique per
// process and call, hidden, and marked so that no file of a user's is ever taken for one.
std::string temp_path_for(const std::string& target);
// The n-th temporary name that process `pid` gives `target_name` (a name, not a path).
std::string temp_name(const std::string& target_name, long pid, uint64_t n);

// The pid of the process that created the temporary named `file_name` (a name, not a path),
// or nullopt if it is not a temporary's name. Also recognises the unhidden
// "<name>.tmp.<pid>.<n>" that the previous release left for the files it wrote.
std::optional<long> temp_owner(const std::string& file_name);

// Whether a process with this pid exists (so its temporaries may still be in use).
bool process_running(long pid);

enum class StaleTemporaries {
  kAll,        // the caller knows no other process uses the folder (it holds the run's lock)
  kOwnerGone,  // the folder is shared: only those whose creator no longer runs
};

// Removes the temporaries (files or folders) directly inside `folder` and returns their names;
// a missing folder has none. The caller's own temporaries are kept with kOwnerGone.
std::vector<std::string> remove_temporaries(const std::string& folder, StaleTemporaries which);

// Writes `bytes` to `path` atomically (see AtomicFile).
void write_file_atomic(const std::string& path, std::string_view bytes);

// fsync a folder so renames inside it survive a crash (best effort: errors are ignored).
void sync_folder(const std::string& folder);

// Reads a whole file into a string; throws naming the file when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace tapelm
