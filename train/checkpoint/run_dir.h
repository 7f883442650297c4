// A run's out_dir: the lock that lets one pretraining or fine-tuning run use it at a time,
// and what a run does to it once accepted. Until then (config compatibility, world size and
// the checkpoint to resume from are checked), nothing in out_dir changes but the lock file.
#pragma once

#include <filesystem>
#include <string>

namespace tapelm {

// An advisory lock (flock) on <out_dir>/.lock, holding the owner's pid for the message of
// those refused. The OS releases it when the process ends, however it ends.
class RunLock {
 public:
  // Creates out_dir if needed. Throws InputError (exit 2) naming out_dir when it cannot be
  // created or written, or, with the holder's pid, when another run holds the lock;
  // std::runtime_error when the file system cannot lock.
  explicit RunLock(const std::filesystem::path& out_dir);
  // Releases the lock; removes out_dir again if this lock created it and nothing else was
  // written there (the run was refused).
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  std::filesystem::path out_dir_;
  bool created_out_dir_ = false;
  int fd_ = -1;
};

// Removes every temporary (data/atomic_file.h) in `run_dir` and its checkpoints/: with the
// run's lock held, none can be in use.
void remove_run_temporaries(const std::filesystem::path& run_dir);

// The run was accepted: removes what killed runs left (remove_run_temporaries) and writes
// <out_dir>/config.yaml.
void start_run(const std::filesystem::path& out_dir, const std::string& config_yaml);

}  // namespace tapelm
