// Durable file-system helpers over POSIX fsync/rename.
#include "train/fs_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tapelm {
namespace {

[[noreturn]] void throw_system_error(const std::filesystem::path& path, const std::string& action) {
  throw std::runtime_error(path.string() + ": cannot " + action + ": " + std::strerror(errno));
}

void fsync_with_flags(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) throw_system_error(path, "open for fsync");
  if (::fsync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    throw_system_error(path, "fsync");
  }
  ::close(fd);
}

}  // namespace

// fsync on a read-only descriptor flushes the file's data too (Linux, POSIX.1-2008).
void fsync_file(const std::filesystem::path& path) { fsync_with_flags(path, O_RDONLY | O_CLOEXEC); }

void fsync_directory(const std::filesystem::path& path) {
  fsync_with_flags(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

void write_file_durably(const std::filesystem::path& path, const std::string& bytes) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw_system_error(path, "create");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw_system_error(path, "write");
  }
  fsync_file(path);
}

void write_file_atomically(const std::filesystem::path& path, const std::string& bytes) {
  const std::filesystem::path parent = path.has_parent_path() ? path.parent_path() : ".";
  const std::filesystem::path temp =
      parent / ("." + path.filename().string() + ".tmp_" + std::to_string(::getpid()));
  write_file_durably(temp, bytes);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    errno = saved;
    throw_system_error(temp, "rename to " + path.string());
  }
  fsync_directory(parent);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_system_error(path, "open");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw_system_error(path, "read");
  return bytes.str();
}

}  // namespace tapelm
