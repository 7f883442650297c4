// Running a shell command (a job under mpirun, or a plain tapelm run) from a test: its exit
// status and what it printed.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace tapelm::testing {

struct Finished {
  int exit_code = -1;
  std::string output;
};

// `shell_command` through /bin/sh; add " 2>&1" to capture stderr too.
inline Finished run_shell(const std::string& shell_command) {
  Finished result;
  FILE* pipe = popen(shell_command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) result.output += buffer;
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace tapelm::testing
