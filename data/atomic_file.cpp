// AtomicFile: temp file + write loop + fsync + rename + folder fsync.
#include <tapelm/data/atomic_file.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

#include <tapelm/data/crash_point.h>

namespace tapelm {
namespace {

std::runtime_error io_error(const std::string& what, const std::string& path, int err) {
  return std::runtime_error(what + " '" + path + "': " + std::strerror(err));
}

bool all_digits(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

namespace {

constexpr std::string_view kTempMarker = ".tapelm-tmp.";
// What the previous release's atomic writer left, unhidden and unmarked ("<name>.tmp.<pid>.<n>"):
// recognised only for the files it wrote, so a user's own "x.tmp.1.2" is never touched.
constexpr std::string_view kLegacyTempTargets[] = {"config.yaml", "latest",     "loss.svg",       "loss.png.gp",
                                                   "metrics.jsonl", "split.json", "test_report.txt"};

// "<pid>.<n>" → pid.
std::optional<long> parse_owner(std::string_view tail) {
  const size_t dot = tail.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view pid = tail.substr(0, dot);
  if (!all_digits(pid) || pid.size() > 9 || !all_digits(tail.substr(dot + 1))) return std::nullopt;
  return std::stol(std::string(pid));
}

}  // namespace

std::string temp_name(const std::string& target_name, long pid, uint64_t n) {
  return "." + target_name + std::string(kTempMarker) + std::to_string(pid) + "." + std::to_string(n);
}

std::string temp_path_for(const std::string& target) {
  // The counter makes names unique per call, so concurrent writers never share a temporary.
  static std::atomic<uint64_t> counter{0};
  const std::filesystem::path path(target);
  return (path.parent_path() / temp_name(path.filename().string(), ::getpid(), counter++)).string();
}

std::optional<long> temp_owner(const std::string& file_name) {
  const std::string_view name(file_name);
  if (name.size() > 1 && name[0] == '.') {
    const size_t marker = name.rfind(kTempMarker);
    if (marker != std::string_view::npos && marker > 1) return parse_owner(name.substr(marker + kTempMarker.size()));
  }
  for (const std::string_view target : kLegacyTempTargets) {
    const std::string prefix = std::string(target) + ".tmp.";
    if (name.rfind(prefix, 0) == 0) return parse_owner(name.substr(prefix.size()));
  }
  return std::nullopt;
}

bool process_running(long pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

std::vector<std::string> remove_temporaries(const std::string& folder, StaleTemporaries which) {
  namespace fs = std::filesystem;
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return removed;
  std::vector<fs::path> stale;  // collected first: removing while iterating may skip entries
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
    const std::optional<long> owner = temp_owner(entry.path().filename().string());
    if (!owner) continue;
    if (which == StaleTemporaries::kOwnerGone && (*owner == ::getpid() || process_running(*owner))) continue;
    stale.push_back(entry.path());
  }
  for (const fs::path& path : stale) {
    // Best effort: another process cleaning the same shared folder may have removed it first.
    if (fs::remove_all(path, ec) > 0) removed.push_back(path.filename().string());
  }
  if (!removed.empty()) sync_folder(folder);
  return removed;
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temp_path_(temp_path_for(path_)) {
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw io_error("cannot create temporary file for", path_, errno);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error("cannot write", path_, errno);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFile::write_at(uint64_t offset, const void* data, size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error("cannot write", path_, errno);
    }
    p += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw std::logic_error("AtomicFile::commit called twice for '" + path_ + "'");
  if (::fsync(fd_) != 0) throw io_error("cannot fsync", path_, errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(temp_path_.c_str());
    throw io_error("cannot close", path_, errno);
  }
  fd_ = -1;
  crash_point("atomic_file.renaming");
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp_path_.c_str());
    throw io_error("cannot rename temporary file onto", path_, err);
  }
  const std::string folder = std::filesystem::path(path_).parent_path().string();
  sync_folder(folder.empty() ? "." : folder);
}

void sync_folder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the rename is done; a folder we cannot open cannot be synced
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw io_error("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw io_error("cannot stat", path, err);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error("'" + path + "' is a folder, expected a file");
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, &out[done], out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw io_error("cannot read", path, err);
    }
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

}  // namespace tapelm
