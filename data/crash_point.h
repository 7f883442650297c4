// A test hook for crash safety: multi-step file operations (atomic writes, checkpoint writes
// and deletions) call crash_point at the moments a kill would hurt most, and a test sets
// TAPELM_TEST_CRASH_AT=<point>[:<n>] to have the process killed by SIGKILL the n-th time
// (default the first) it reaches that point. Unset, a crash point costs one comparison.
#pragma once

namespace tapelm {

void crash_point(const char* name);

}  // namespace tapelm
