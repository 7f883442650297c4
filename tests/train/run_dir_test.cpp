// The out_dir lock: a second holder is refused with exit-2 error naming the first one's pid,
// and a killed holder's lock is released by the OS.
#include <tapelm/train/checkpoint/run_dir.h>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scratch_dir.h"
#include <tapelm/train/config/errors.h>

namespace tapelm {
namespace {

using testing::ScratchDir;

// A child process holding the lock until killed; returns once it holds it.
pid_t hold_lock_in_child(const std::filesystem::path& out_dir) {
  int ready[2];
  EXPECT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      const RunLock lock(out_dir);
      [[maybe_unused]] const ssize_t sent = ::write(ready[1], "x", 1);
      ::pause();
    } catch (...) {
      ::_exit(1);  // the parent's read then sees end-of-file instead of waiting
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  EXPECT_EQ(::read(ready[0], &byte, 1), 1) << "the child could not take the lock";
  ::close(ready[0]);
  return child;
}

TEST(RunLock, ASecondRunIsRefusedNamingTheOutDirAndTheHoldersPid) {
  ScratchDir scratch;
  const std::filesystem::path out_dir = scratch / "run";
  const pid_t holder = hold_lock_in_child(out_dir);
  try {
    const RunLock second(out_dir);
    ADD_FAILURE() << "a second lock on the same out_dir was granted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), out_dir.string() + ": another run (pid " + std::to_string(holder) +
                                         ") is using this out_dir; wait for it to end, or choose another out_dir "
                                         "(--set out_dir=...)");
  }
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  EXPECT_NO_THROW(RunLock{out_dir}) << "the OS releases the lock of a killed holder";
}

TEST(RunLock, IsExclusiveWithinOneProcessToo) {
  ScratchDir scratch;
  const RunLock first(scratch.path());
  EXPECT_THROW(RunLock{scratch.path()}, InputError);
}

}  // namespace
}  // namespace tapelm
