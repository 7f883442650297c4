// The passive OpenMP wait policy default: re-exec when the variable is unset, never when
// the user set it.
#include <tapelm/autograd/wait_policy.h>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "scratch_dir.h"

namespace tapelm {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void set_or_unset(const char* name, const char* value) {
  if (value) setenv(name, value, 1);
  else unsetenv(name);
}

// Runs reexec_with_passive_wait_policy in a child whose OMP_WAIT_POLICY is `value` and
// GOMP_SPINCOUNT `spin` (null: unset), with a shell as the exec target that writes
// "exec:<policy>/<spin count>" to `out`. Returns what the child left in `out`: "exec:..." if
// it exec'd, "returned:..." if the call returned.
std::string child_outcome(const char* value, const std::string& out, const char* spin = nullptr) {
  const pid_t pid = fork();
  if (pid == 0) {
    set_or_unset("OMP_WAIT_POLICY", value);
    set_or_unset("GOMP_SPINCOUNT", spin);
    const std::string script = "printf 'exec:%s/%s' \"$OMP_WAIT_POLICY\" \"$GOMP_SPINCOUNT\" > '" + out + "'";
    char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(script.c_str()), nullptr};
    reexec_with_passive_wait_policy("/bin/sh", argv);
    std::ofstream(out) << "returned:" << std::getenv("OMP_WAIT_POLICY");
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return read_file(out);
}

TEST(WaitPolicy, UnsetPolicyReexecsWithPassiveAndABriefSpin) {
  const testing::ScratchDir dir;
  EXPECT_EQ(child_outcome(nullptr, dir.file("out")), "exec:PASSIVE/" + std::string(kSpinCount));
}

TEST(WaitPolicy, UserSetSpinCountIsKept) {
  const testing::ScratchDir dir;
  EXPECT_EQ(child_outcome(nullptr, dir.file("out"), "0"), "exec:PASSIVE/0");
}

TEST(WaitPolicy, UserSetPolicyWinsAndNothingIsExecuted) {
  const testing::ScratchDir dir;
  EXPECT_EQ(child_outcome("ACTIVE", dir.file("out")), "returned:ACTIVE");
  EXPECT_EQ(child_outcome("", dir.file("out2")), "returned:");
}

TEST(WaitPolicy, FailedExecReturnsAndCarriesOn) {
  const pid_t pid = fork();
  if (pid == 0) {
    unsetenv("OMP_WAIT_POLICY");
    char* argv[] = {const_cast<char*>("missing"), nullptr};
    reexec_with_passive_wait_policy("/nonexistent/binary", argv);
    _exit(42);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42);
}

}  // namespace
}  // namespace tapelm
