// Resolving classification.class_weights.
#include <tapelm/train/tasks/class_weights.h>

#include <cmath>
#include <cstdio>

#include <tapelm/train/config/errors.h>
#include <tapelm/train/config/suggest.h>

namespace tapelm {

std::vector<float> resolve_class_weights(const ClassWeights& setting, const LabelVocab& labels,
                                         const std::vector<LabeledExample>& examples,
                                         const std::vector<size_t>& train_indices) {
  switch (setting.kind) {
    case ClassWeights::Kind::kNone:
      return {};
    case ClassWeights::Kind::kAuto: {
      // Normalised so the weights average 1 over the training examples (Σ_c n_c·w_c = N): a
      // batch's weighted mean then sits on the scale of the unweighted one, so optimizer.lr
      // and grad_clip keep their meaning. The vocabulary comes from the training split, so
      // every n_c >= 1.
      std::vector<size_t> counts(labels.size(), 0);
      for (size_t i : train_indices) ++counts[size_t(labels.id(examples[i].target))];
      const double n = double(train_indices.size());
      const double k = double(labels.size());
      std::vector<float> weights;
      for (size_t count : counts) weights.push_back(float(n / (k * double(count))));
      return weights;
    }
    case ClassWeights::Kind::kByLabel: {
      std::vector<float> weights(labels.size(), 1.0f);
      for (const auto& [label, weight] : setting.by_label) {
        const int32_t id = labels.find(label);
        if (id < 0) {
          std::string known;
          for (const std::string& name : labels.labels()) known += (known.empty() ? "" : ", ") + name;
          throw ConfigError("classification.class_weights: label '" + label +
                            "' is not in the training split's labels" + suggestion_suffix(label, labels.labels()) +
                            " (they are: " + known + ")");
        }
        const float value = float(weight);
        if (!(std::isfinite(value) && value > 0.0f)) {
          throw ConfigError("classification.class_weights: label '" + label + "': the weight " +
                            format_number(weight) + " is outside the range of a float");
        }
        weights[size_t(id)] = value;
      }
      return weights;
    }
  }
  return {};
}

std::string class_weights_line(const ClassWeights& setting, const LabelVocab& labels,
                               const std::vector<float>& weights) {
  std::string line = std::string("class weights (") +
                     (setting.kind == ClassWeights::Kind::kAuto ? "auto" : "by label") + "):";
  for (size_t c = 0; c < weights.size(); ++c) {
    char number[32];
    std::snprintf(number, sizeof number, "%.4g", double(weights[c]));
    line += (c == 0 ? " " : ", ") + labels.labels()[c] + " " + number;
  }
  return line;
}

}  // namespace tapelm
