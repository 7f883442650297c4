// RunLock (flock on <out_dir>/.lock) and the start of an accepted run.
#include <tapelm/train/checkpoint/run_dir.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <tapelm/data/atomic_file.h>
#include <tapelm/train/checkpoint/checkpoint.h>
#include <tapelm/train/config/errors.h>

namespace tapelm {
namespace fs = std::filesystem;

namespace {

// The pid the holder wrote, or "unknown" if it has not written it yet.
std::string holder_pid(int fd) {
  char buffer[32] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  std::string pid(buffer, n > 0 ? static_cast<size_t>(n) : 0);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos ? "unknown" : pid;
}

}  // namespace

RunLock::RunLock(const fs::path& out_dir) : out_dir_(out_dir) {
  std::error_code ec;
  const bool existed = fs::exists(out_dir, ec);
  created_out_dir_ = !ec && !existed;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) {
    throw InputError("out_dir " + out_dir.string() + ": cannot be used as the run's folder (" +
                     (ec ? ec.message() : std::string("it exists and is not a folder")) + ")");
  }
  const fs::path path = out_dir / ".lock";
  // A refused run that created out_dir removes the lock file on its way out (~RunLock): a
  // lock taken on that file meanwhile is on a name that is gone, so it is taken again.
  for (;;) {
    // Close-on-exec: a child such as gnuplot must not keep the lock after we die.
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw InputError("out_dir " + out_dir.string() + ": cannot write in it (" + std::strerror(errno) + ")");
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const std::string pid = holder_pid(fd_);
      ::close(fd_);
      if (err != EWOULDBLOCK) {
        throw std::runtime_error("cannot lock '" + path.string() + "': " + std::strerror(err));
      }
      throw InputError(out_dir.string() + ": another run (pid " + pid +
                       ") is using this out_dir; wait for it to end, or choose another out_dir (--set out_dir=...)");
    }
    struct stat locked {}, named {};
    if (::fstat(fd_, &locked) == 0 && ::stat(path.c_str(), &named) == 0 && locked.st_dev == named.st_dev &&
        locked.st_ino == named.st_ino) {
      break;
    }
    ::close(fd_);
  }
  // Only the message of a refused run reads the pid, so failing to write it is no error.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t written = ::pwrite(fd_, pid.data(), pid.size(), 0);
  }
}

RunLock::~RunLock() {
  // A run refused before it started leaves no folder of its own behind. The lock file goes
  // while the lock is still held, so no other run can be holding a lock on it then.
  if (created_out_dir_) {
    std::error_code ec;
    bool only_the_lock = true;
    for (const fs::directory_entry& entry : fs::directory_iterator(out_dir_, ec)) {
      only_the_lock = only_the_lock && entry.path().filename() == ".lock";
    }
    if (!ec && only_the_lock && fs::remove(out_dir_ / ".lock", ec)) fs::remove(out_dir_, ec);
  }
  ::close(fd_);
}

void remove_run_temporaries(const fs::path& run_dir) {
  remove_temporaries(run_dir.string(), StaleTemporaries::kAll);
  remove_temporaries(checkpoints_dir(run_dir).string(), StaleTemporaries::kAll);
}

void start_run(const fs::path& out_dir, const std::string& config_yaml) {
  remove_run_temporaries(out_dir);
  write_file_atomic(out_dir / "config.yaml", config_yaml);
}

}  // namespace tapelm
