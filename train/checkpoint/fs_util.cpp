// Durable file-system helpers over POSIX fsync/rename.
#include <tapelm/train/checkpoint/fs_util.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
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

}  // namespace tapelm
