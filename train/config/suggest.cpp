// "Did you mean ...?" suggestions by Levenshtein distance.
#include <tapelm/train/config/suggest.h>

#include <algorithm>

#include <tapelm/train/tasks/task_metrics.h>

namespace tapelm {

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  const int64_t limit = std::max<int64_t>(2, int64_t(word.size()) / 3);
  std::string best;
  int64_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    const int64_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

std::string suggestion_suffix(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string match = closest_match(word, candidates);
  if (!match.empty()) return " (did you mean '" + match + "'?)";
  std::string list;
  for (const std::string& candidate : candidates) list += (list.empty() ? "" : ", ") + candidate;
  return " (expected one of: " + list + ")";
}

}  // namespace tapelm
