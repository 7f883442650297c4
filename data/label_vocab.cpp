// LabelVocab and the class balance report.
#include <tapelm/data/label_vocab.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace tapelm {
namespace {

// Calls fn(example) for examples[indices], or every example when `indices` is empty.
template <class Fn>
void for_selected(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices, Fn fn) {
  if (indices.empty()) {
    for (const LabeledExample& example : examples) fn(example);
    return;
  }
  for (size_t i : indices) {
    if (i >= examples.size()) {
      throw std::out_of_range("labels: example index " + std::to_string(i) + " out of range for " +
                              std::to_string(examples.size()) + " examples");
    }
    fn(examples[i]);
  }
}

}  // namespace

LabelVocab::LabelVocab(std::vector<std::string> labels) : labels_(std::move(labels)) {
  std::sort(labels_.begin(), labels_.end());
  labels_.erase(std::unique(labels_.begin(), labels_.end()), labels_.end());
  if (labels_.empty()) throw std::invalid_argument("label vocabulary: no labels");
  if (labels_.front().empty()) throw std::invalid_argument("label vocabulary: empty label");
  for (size_t i = 0; i < labels_.size(); ++i) ids_.emplace(labels_[i], static_cast<int32_t>(i));
}

LabelVocab LabelVocab::from_examples(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices) {
  std::vector<std::string> labels;
  for_selected(examples, indices, [&](const LabeledExample& example) { labels.push_back(example.target); });
  return LabelVocab(std::move(labels));
}

std::string LabelVocab::to_json() const { return nlohmann::json{{"labels", labels_}}.dump(); }

LabelVocab LabelVocab::from_json(const std::string& json, const std::string& origin) {
  try {
    const nlohmann::json doc = nlohmann::json::parse(json);
    if (!doc.is_object() || !doc.contains("labels") || !doc["labels"].is_array()) {
      throw std::runtime_error("expected {\"labels\": [...]}");
    }
    return LabelVocab(doc["labels"].get<std::vector<std::string>>());
  } catch (const std::exception& e) {
    throw std::runtime_error("label vocabulary '" + origin + "': " + e.what());
  }
}

const std::string& LabelVocab::label(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= labels_.size()) {
    throw std::out_of_range("label vocabulary: id " + std::to_string(id) + " outside [0, " +
                            std::to_string(labels_.size()) + ")");
  }
  return labels_[static_cast<size_t>(id)];
}

int32_t LabelVocab::find(const std::string& label) const {
  const auto it = ids_.find(label);
  return it == ids_.end() ? -1 : it->second;
}

int32_t LabelVocab::id(const std::string& label) const {
  const int32_t found = find(label);
  if (found < 0) {
    std::string known;
    for (const std::string& l : labels_) known += (known.empty() ? "" : ", ") + l;
    throw std::invalid_argument("label vocabulary: unknown label '" + label + "' (known: " + known + ")");
  }
  return found;
}

std::string class_balance_report(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices) {
  std::map<std::string, size_t> counts;
  size_t total = 0;
  for_selected(examples, indices, [&](const LabeledExample& example) {
    counts[example.target] += 1;
    total += 1;
  });
  size_t width = 5;  // "total"
  for (const auto& [label, _] : counts) width = std::max(width, label.size());
  std::string out;
  char buf[64];
  for (const auto& [label, count] : counts) {
    std::snprintf(buf, sizeof buf, "  %8zu  %5.1f%%\n", count, 100.0 * count / total);
    out += label + std::string(width - label.size(), ' ') + buf;
  }
  std::snprintf(buf, sizeof buf, "  %8zu\n", total);
  out += "total" + std::string(width - 5, ' ') + buf;
  return out;
}

}  // namespace tapelm
