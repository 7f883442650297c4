// Task metrics: confusion-matrix scores and Levenshtein-based sequence scores.
#include <tapelm/train/tasks/task_metrics.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace tapelm {
namespace {

double ratio(int64_t numerator, int64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

// Two-row dynamic programme over the shorter sequence.
template <class Seq>
int64_t levenshtein(const Seq& a, const Seq& b) {
  const Seq& longer = a.size() >= b.size() ? a : b;
  const Seq& shorter = a.size() >= b.size() ? b : a;
  std::vector<int64_t> prev(shorter.size() + 1), cur(shorter.size() + 1);
  for (size_t j = 0; j <= shorter.size(); ++j) prev[j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= longer.size(); ++i) {
    cur[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= shorter.size(); ++j) {
      const int64_t substitute = prev[j - 1] + (longer[i - 1] == shorter[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[shorter.size()];
}

template <class Seq>
void add_sequence(SequenceScores& scores, const Seq& reference, const Seq& hypothesis) {
  scores.edits += levenshtein(reference, hypothesis);
  scores.reference_tokens += static_cast<int64_t>(reference.size());
  scores.exact += reference == hypothesis ? 1 : 0;
  scores.sequences += 1;
}

void check_pair(const char* who, size_t references, size_t hypotheses) {
  if (references != hypotheses) {
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(references) + " references but " +
                                std::to_string(hypotheses) + " predictions (expected equal counts)");
  }
  if (references == 0) throw std::invalid_argument(std::string(who) + ": no examples to score");
}

SequenceScores score_sequences(const char* who, const std::vector<std::vector<int32_t>>& references,
                               const std::vector<std::vector<int32_t>>& hypotheses) {
  check_pair(who, references.size(), hypotheses.size());
  SequenceScores scores;
  for (size_t i = 0; i < references.size(); ++i) scores.add(references[i], hypotheses[i]);
  return scores;
}

std::string format_cell(const std::string& text, size_t width) {
  return std::string(width > text.size() ? width - text.size() : 0, ' ') + text;
}

std::string format_score(double value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.3f", value);
  return buf;
}

}  // namespace

ConfusionMatrix::ConfusionMatrix(int64_t num_classes) : num_classes_(num_classes) {
  if (num_classes < 1) {
    throw std::invalid_argument("confusion matrix: num_classes must be >= 1, got " + std::to_string(num_classes));
  }
  counts_.assign(static_cast<size_t>(num_classes * num_classes), 0);
}

void ConfusionMatrix::check_label(const char* role, int32_t label) const {
  if (label < 0 || label >= num_classes_) {
    throw std::invalid_argument("confusion matrix: " + std::string(role) + " class " + std::to_string(label) +
                                " is outside [0, " + std::to_string(num_classes_) + ")");
  }
}

void ConfusionMatrix::add(int32_t truth, int32_t predicted, int64_t times) {
  check_label("reference", truth);
  check_label("predicted", predicted);
  if (times < 0) throw std::invalid_argument("confusion matrix: cannot add " + std::to_string(times) + " examples");
  counts_[static_cast<size_t>(truth * num_classes_ + predicted)] += times;
  total_ += times;
}

int64_t ConfusionMatrix::count(int32_t truth, int32_t predicted) const {
  check_label("reference", truth);
  check_label("predicted", predicted);
  return counts_[static_cast<size_t>(truth * num_classes_ + predicted)];
}

int64_t ConfusionMatrix::predicted_total(int32_t label) const {
  int64_t sum = 0;
  for (int32_t t = 0; t < num_classes_; ++t) sum += counts_[static_cast<size_t>(t * num_classes_ + label)];
  return sum;
}

int64_t ConfusionMatrix::truth_total(int32_t label) const {
  int64_t sum = 0;
  for (int32_t p = 0; p < num_classes_; ++p) sum += counts_[static_cast<size_t>(label * num_classes_ + p)];
  return sum;
}

double ConfusionMatrix::accuracy() const {
  if (total_ == 0) throw std::invalid_argument("confusion matrix: accuracy of no examples");
  int64_t correct = 0;
  for (int32_t c = 0; c < num_classes_; ++c) correct += counts_[static_cast<size_t>(c * num_classes_ + c)];
  return ratio(correct, total_);
}

ClassScores ConfusionMatrix::class_scores(int32_t label) const {
  const int64_t hits = count(label, label);
  ClassScores s;
  s.support = truth_total(label);
  s.precision = ratio(hits, predicted_total(label));
  s.recall = ratio(hits, s.support);
  s.f1 = s.precision + s.recall == 0 ? 0.0 : 2 * s.precision * s.recall / (s.precision + s.recall);
  return s;
}

double ConfusionMatrix::macro_f1() const {
  if (total_ == 0) throw std::invalid_argument("confusion matrix: macro-F1 of no examples");
  double sum = 0;
  int64_t classes = 0;
  for (int32_t c = 0; c < num_classes_; ++c) {
    if (truth_total(c) == 0 && predicted_total(c) == 0) continue;
    sum += class_scores(c).f1;
    classes += 1;
  }
  return sum / static_cast<double>(classes);
}

std::string ConfusionMatrix::table(const std::vector<std::string>& names) const {
  if (!names.empty() && static_cast<int64_t>(names.size()) != num_classes_) {
    throw std::invalid_argument("confusion matrix: " + std::to_string(names.size()) + " class names for " +
                                std::to_string(num_classes_) + " classes");
  }
  std::vector<std::string> labels = names;
  if (labels.empty()) {
    for (int64_t c = 0; c < num_classes_; ++c) labels.push_back(std::to_string(c));
  }
  size_t width = std::string("precision").size();
  for (const std::string& label : labels) width = std::max(width, label.size());
  for (int64_t value : counts_) width = std::max(width, std::to_string(value).size());
  width += 1;

  std::string out = format_cell("truth\\pred", width);
  for (const std::string& label : labels) out += format_cell(label, width);
  out += format_cell("precision", width) + format_cell("recall", width) + format_cell("f1", width) +
         format_cell("support", width) + "\n";
  for (int32_t t = 0; t < num_classes_; ++t) {
    out += format_cell(labels[static_cast<size_t>(t)], width);
    for (int32_t p = 0; p < num_classes_; ++p) out += format_cell(std::to_string(count(t, p)), width);
    const ClassScores s = class_scores(t);
    out += format_cell(format_score(s.precision), width) + format_cell(format_score(s.recall), width) +
           format_cell(format_score(s.f1), width) + format_cell(std::to_string(s.support), width) + "\n";
  }
  return out;
}

ConfusionMatrix confusion_matrix(const std::vector<int32_t>& truth, const std::vector<int32_t>& predicted,
                                 int64_t num_classes) {
  check_pair("confusion matrix", truth.size(), predicted.size());
  ConfusionMatrix matrix(num_classes);
  for (size_t i = 0; i < truth.size(); ++i) matrix.add(truth[i], predicted[i]);
  return matrix;
}

double accuracy(const std::vector<int32_t>& truth, const std::vector<int32_t>& predicted) {
  check_pair("accuracy", truth.size(), predicted.size());
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) correct += truth[i] == predicted[i] ? 1 : 0;
  return ratio(correct, static_cast<int64_t>(truth.size()));
}

int64_t edit_distance(const std::vector<int32_t>& a, const std::vector<int32_t>& b) { return levenshtein(a, b); }
int64_t edit_distance(const std::string& a, const std::string& b) { return levenshtein(a, b); }
int64_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return levenshtein(a, b);
}

void SequenceScores::add(const std::vector<int32_t>& reference, const std::vector<int32_t>& hypothesis) {
  add_sequence(*this, reference, hypothesis);
}
void SequenceScores::add(const std::vector<std::string>& reference, const std::vector<std::string>& hypothesis) {
  add_sequence(*this, reference, hypothesis);
}

double SequenceScores::token_error_rate() const {
  if (reference_tokens == 0) {
    throw std::invalid_argument("token error rate: the references hold no tokens (" + std::to_string(sequences) +
                                " sequences)");
  }
  return ratio(edits, reference_tokens);
}

double SequenceScores::exact_match_accuracy() const {
  if (sequences == 0) throw std::invalid_argument("exact-match accuracy: no sequences to score");
  return ratio(exact, sequences);
}

double token_error_rate(const std::vector<std::vector<int32_t>>& references,
                        const std::vector<std::vector<int32_t>>& hypotheses) {
  return score_sequences("token error rate", references, hypotheses).token_error_rate();
}

double exact_match_accuracy(const std::vector<std::vector<int32_t>>& references,
                            const std::vector<std::vector<int32_t>>& hypotheses) {
  return score_sequences("exact-match accuracy", references, hypotheses).exact_match_accuracy();
}

}  // namespace tapelm
