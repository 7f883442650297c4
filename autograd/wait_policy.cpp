// Re-exec under OMP_WAIT_POLICY=PASSIVE (see wait_policy.h).
#include <tapelm/autograd/wait_policy.h>

#include <unistd.h>

#include <cstdlib>

namespace tapelm {

void reexec_with_passive_wait_policy(const char* exe, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  if (setenv("GOMP_SPINCOUNT", kSpinCount, /*overwrite=*/0) != 0) return;
  execv(exe, argv);
  // Only reached when exec failed: the variable stays set (harmless, libgomp already read
  // the environment) and the program runs on under the default policy.
}

}  // namespace tapelm
