// The class labels of a classification task: sorted, so ids do not depend on the order the
// data was read in; saved as JSON beside a checkpoint so predictions map back to names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <tapelm/data/labeled_dataset.h>

namespace tapelm {

class LabelVocab {
 public:
  // Sorted, duplicates removed; throws std::invalid_argument when empty or a label is empty.
  explicit LabelVocab(std::vector<std::string> labels);
  // The targets of examples[indices] (every example when `indices` is empty).
  static LabelVocab from_examples(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices = {});
  // {"labels": [...]}; from_json throws std::runtime_error naming `origin` for bad input.
  std::string to_json() const;
  static LabelVocab from_json(const std::string& json, const std::string& origin);

  size_t size() const { return labels_.size(); }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::string& label(int32_t id) const;  // throws std::out_of_range naming the id
  int32_t find(const std::string& label) const;  // -1 when absent
  // Throws std::invalid_argument naming the label and the known ones (e.g. a validation
  // label never seen in training).
  int32_t id(const std::string& label) const;

 private:
  std::vector<std::string> labels_;
  std::unordered_map<std::string, int32_t> ids_;
};

// "label  count  percent" per label (sorted), then the total: for logs, to spot imbalance.
std::string class_balance_report(const std::vector<LabeledExample>& examples, const std::vector<size_t>& indices = {});

}  // namespace tapelm
