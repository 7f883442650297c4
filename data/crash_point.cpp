// crash_point: compares the point with TAPELM_TEST_CRASH_AT and counts the visits of the
// point it names. The variable is read at every visit (crash points sit beside fsyncs, so
// this costs nothing measurable), which lets a forked test child set it after the parent ran.
#include <tapelm/data/crash_point.h>

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace tapelm {

void crash_point(const char* name) {
  const char* target = std::getenv("TAPELM_TEST_CRASH_AT");
  if (target == nullptr) return;
  const size_t length = std::strlen(name);
  if (std::strncmp(target, name, length) != 0 || (target[length] != '\0' && target[length] != ':')) return;
  const long kill_at = target[length] == ':' ? std::strtol(target + length + 1, nullptr, 10) : 1;
  static std::atomic<long> visits{0};
  if (++visits == kill_at) ::raise(SIGKILL);
}

}  // namespace tapelm
