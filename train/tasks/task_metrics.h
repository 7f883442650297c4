// Metrics for fine-tuned tasks, as pure functions of predictions and references:
// classification (accuracy, per-class precision/recall/F1, macro-F1, confusion matrix) and
// sequence output (Levenshtein edit distance, token error rate, exact-match accuracy).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tapelm {

struct ClassScores {
  double precision = 0;  // 0 when the class was never predicted
  double recall = 0;     // 0 when the class never occurs in the references
  double f1 = 0;         // 0 when precision + recall is 0
  int64_t support = 0;   // reference examples of the class
};

// counts[truth][predicted] over classes 0 .. num_classes-1.
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t num_classes);

  // Counts `times` examples of class `truth` predicted as `predicted`. Throws
  // std::invalid_argument naming the value when a class is outside [0, num_classes) or
  // times is negative.
  void add(int32_t truth, int32_t predicted, int64_t times = 1);

  int64_t num_classes() const { return num_classes_; }
  int64_t total() const { return total_; }
  int64_t count(int32_t truth, int32_t predicted) const;

  double accuracy() const;  // throws when empty
  ClassScores class_scores(int32_t label) const;
  // Mean F1 over the classes that occur in the references or the predictions (as
  // scikit-learn does when no label list is given); throws when empty.
  double macro_f1() const;

  // Rows = reference, columns = prediction, right-aligned, with a header row of names
  // (default: class indices) and per-class precision/recall/F1 after each row.
  std::string table(const std::vector<std::string>& names = {}) const;

 private:
  void check_label(const char* role, int32_t label) const;
  int64_t predicted_total(int32_t label) const;
  int64_t truth_total(int32_t label) const;

  int64_t num_classes_;
  int64_t total_ = 0;
  std::vector<int64_t> counts_;  // [num_classes, num_classes], row = truth
};

// Throws std::invalid_argument when the lists differ in length or are empty.
ConfusionMatrix confusion_matrix(const std::vector<int32_t>& truth, const std::vector<int32_t>& predicted,
                                 int64_t num_classes);
double accuracy(const std::vector<int32_t>& truth, const std::vector<int32_t>& predicted);

// Levenshtein distance between token sequences (ids, or words / phonemes as strings): the
// fewest insertions, deletions and substitutions turning `a` into `b`. O(|a|·|b|) time,
// O(min(|a|, |b|)) memory. On plain strings it counts characters (bytes).
int64_t edit_distance(const std::vector<int32_t>& a, const std::vector<int32_t>& b);
int64_t edit_distance(const std::string& a, const std::string& b);
int64_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b);

// Streaming totals for sequence outputs (one add() per example, e.g. inside an eval loop).
struct SequenceScores {
  int64_t edits = 0;             // summed edit distances
  int64_t reference_tokens = 0;  // summed reference lengths
  int64_t exact = 0;             // hypotheses equal to their reference
  int64_t sequences = 0;

  void add(const std::vector<int32_t>& reference, const std::vector<int32_t>& hypothesis);
  void add(const std::vector<std::string>& reference, const std::vector<std::string>& hypothesis);
  // edits / reference_tokens (e.g. phoneme or word error rate); can exceed 1. Throws when
  // no reference token was seen.
  double token_error_rate() const;
  double exact_match_accuracy() const;  // throws when no sequence was seen
};

// Whole-list forms; throw std::invalid_argument when the lists differ in length or are empty.
double token_error_rate(const std::vector<std::vector<int32_t>>& references,
                        const std::vector<std::vector<int32_t>>& hypotheses);
double exact_match_accuracy(const std::vector<std::vector<int32_t>>& references,
                            const std::vector<std::vector<int32_t>>& hypotheses);

}  // namespace tapelm
