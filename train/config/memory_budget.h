// The memory this process may use, and the refusal of runs that cannot fit in it: the least
// of MemAvailable (/proc/meminfo), the room left under this process's cgroup limit
// (memory.max − memory.current; memory.limit_in_bytes − memory.usage_in_bytes under cgroup v1)
// and under an address-space limit (ulimit -v).
#pragma once

#include <optional>
#include <string>

#include <tapelm/train/config/memory_estimate.h>

namespace tapelm {

struct MemoryBudget {
  double bytes = 0;
  std::string source;  // where the figure comes from, e.g. "MemAvailable in /proc/meminfo"
};

// The end of a refused training run's message: what to change, or how to try anyway.
inline const char* const kTrainingMemoryHint =
    "make the model, train.micro_batch_size or model.ctx_len smaller, or pass --set train.memory_check=false to "
    "try anyway";

// The same for loading a checkpoint for generate, eval or predict.
inline const char* const kLoadingMemoryHint =
    "the estimate counts little more than the weights, so this checkpoint cannot be used on this machine";

// nullopt when the system reports nothing usable (then no run is refused).
std::optional<MemoryBudget> available_memory();

// "" when `estimate` fits in `budget`; else the refusal: `what` needs how much (and of what)
// while how much is available, ending with `override_hint` (how to try anyway).
std::string memory_refusal(const MemoryEstimate& estimate, const MemoryBudget& budget, const std::string& what,
                           const std::string& override_hint);

// Throws ConfigError with memory_refusal's message when `enabled` and the estimate exceeds
// available_memory().
void require_memory_fits(const MemoryEstimate& estimate, bool enabled, const std::string& what,
                         const std::string& override_hint);

}  // namespace tapelm
