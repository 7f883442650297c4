// The evaluation result's lookup and formatting.
#include <tapelm/train/loop/training_task.h>

#include <stdexcept>

#include <tapelm/train/loop/progress.h>

namespace tapelm {

double TaskEvaluation::metric(const std::string& name) const {
  std::string known;
  for (const auto& [key, value] : metrics) {
    if (key == name) return value;
    known += (known.empty() ? "" : ", ") + key;
  }
  throw std::invalid_argument("no metric '" + name + "' in this evaluation (it has: " + known + ")");
}

std::string format_metrics(const TaskEvaluation& evaluation) {
  std::string out;
  for (const auto& [name, value] : evaluation.metrics) {
    out += (out.empty() ? "" : ", ") + name + " " + format_double("%.4f", value);
  }
  return out;
}

}  // namespace tapelm
