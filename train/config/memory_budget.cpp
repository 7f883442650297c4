// Reading the memory limits that apply to this process (Linux), and the refusal message.
#include <tapelm/train/config/memory_budget.h>

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <tapelm/nn/summary.h>
#include <tapelm/train/config/errors.h>

namespace tapelm {
namespace {

// The value of "Key:   123 kB" in /proc/meminfo, in bytes.
std::optional<double> meminfo_bytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  double kib = 0;
  std::string unit;
  while (in >> name >> kib) {
    std::getline(in, unit);
    if (name == key + ":") return kib * 1024;
  }
  return std::nullopt;
}

// A number from a one-line file such as memory.max ("max" or missing: nullopt).
std::optional<double> file_number(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The value of "key 123" in a cgroup's memory.stat, or 0.
double memory_stat(const std::string& dir, const std::string& key) {
  std::ifstream in(dir + "/memory.stat");
  std::string name;
  double value = 0;
  while (in >> name >> value) {
    if (name == key) return value;
  }
  return 0;
}

// This process's cgroup v2 directory ("0::/user.slice/..." in /proc/self/cgroup).
std::string cgroup_dir() {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0::", 0) == 0) return "/sys/fs/cgroup" + (line == "0::/" ? "" : line.substr(3));
  }
  return "/sys/fs/cgroup";
}

// format_count, or "3.1e+20" for counts past its largest unit.
std::string parameter_count(double count) {
  if (count < 1e12) return format_count(int64_t(count));
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", count);
  return text;
}

void take_smaller(std::optional<MemoryBudget>& budget, double bytes, const std::string& source) {
  if (bytes < 0) bytes = 0;
  if (!budget || bytes < budget->bytes) budget = MemoryBudget{bytes, source};
}

}  // namespace

std::optional<MemoryBudget> available_memory() {
  std::optional<MemoryBudget> budget;
  if (const auto available = meminfo_bytes("MemAvailable")) {
    take_smaller(budget, *available, "MemAvailable in /proc/meminfo");
  } else if (const auto total = meminfo_bytes("MemTotal")) {
    take_smaller(budget, *total, "MemTotal in /proc/meminfo");
  }
  // A cgroup's usage counts the page cache too (the corpus just read, the shards just
  // written); its inactive part is reclaimed before the group runs out, so it is not counted.
  const auto take_cgroup = [&](const std::string& dir, const std::string& limit_file, const std::string& usage_file,
                               const std::string& inactive_cache_key) {
    if (const auto limit = file_number(dir + "/" + limit_file)) {
      const double used = file_number(dir + "/" + usage_file).value_or(0) - memory_stat(dir, inactive_cache_key);
      take_smaller(budget, *limit - used,
                   "the cgroup limit " + dir + "/" + limit_file + " minus " + usage_file + " less inactive page cache");
    }
  };
  // cgroup v2: this process's group and the ones above it; v1: the memory controller's mount.
  for (std::string dir = cgroup_dir();; dir = dir.substr(0, dir.rfind('/'))) {
    take_cgroup(dir, "memory.max", "memory.current", "inactive_file");
    if (dir == "/sys/fs/cgroup" || dir.rfind("/sys/fs/cgroup", 0) != 0) break;
  }
  take_cgroup("/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file");
  rlimit address_space{};
  if (::getrlimit(RLIMIT_AS, &address_space) == 0 && address_space.rlim_cur != RLIM_INFINITY) {
    // The limit counts address space already mapped (libraries, thread stacks) too.
    std::ifstream statm("/proc/self/statm");
    double pages = 0;
    statm >> pages;
    take_smaller(budget, double(address_space.rlim_cur) - pages * double(::sysconf(_SC_PAGESIZE)),
                 "the address-space limit (ulimit -v) minus what is mapped");
  }
  return budget;
}

std::string memory_refusal(const MemoryEstimate& estimate, const MemoryBudget& budget, const std::string& what,
                           const std::string& override_hint) {
  if (estimate.total_bytes() <= budget.bytes) return "";
  return what + " needs at least " + format_bytes(estimate.total_bytes()) + " of memory for " +
         parameter_count(estimate.parameters) + " parameters (" + describe_memory(estimate) + ") but only " +
         format_bytes(budget.bytes) + " is available (" + budget.source + "); " + override_hint;
}

void require_memory_fits(const MemoryEstimate& estimate, bool enabled, const std::string& what,
                         const std::string& override_hint) {
  if (!enabled) return;
  const std::optional<MemoryBudget> budget = available_memory();
  if (!budget) return;
  const std::string refusal = memory_refusal(estimate, *budget, what, override_hint);
  if (!refusal.empty()) throw ConfigError(refusal);
}

}  // namespace tapelm
