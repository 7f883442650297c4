// Helpers for crash-safety tests: a pid that no longer runs, running an action in a child
// killed at a named crash point (data/crash_point.h), and listing the temporaries
// (data/atomic_file.h) a killed writer left.
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <tapelm/data/atomic_file.h>

namespace tapelm::testing {

// The pid of a process that has exited (and been reaped), for temporaries of killed writers.
inline long dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

// Runs `action` in a child process with TAPELM_TEST_CRASH_AT=crash; returns the child's pid if
// it was killed there, else 0.
template <typename Action>
pid_t killed_at(const char* crash, Action action) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::setenv("TAPELM_TEST_CRASH_AT", crash, 1);
    action();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? child : 0;
}

// Every temporary under `dir`, at any depth.
inline std::vector<std::string> temporaries_under(const std::filesystem::path& dir) {
  std::vector<std::string> found;
  for (const std::filesystem::directory_entry& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (temp_owner(entry.path().filename().string())) found.push_back(entry.path().string());
  }
  return found;
}

}  // namespace tapelm::testing
