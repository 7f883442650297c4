// Labeled examples for fine-tuning: (input text, target) pairs read from JSONL, CSV/TSV or a
// folder-per-label tree. The target is a class label (classification), a target text
// (sequence-to-sequence, e.g. phonemes) or a completion (prompt -> completion).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <tapelm/data/enum_names.h>
#include <tapelm/data/utf8.h>

namespace tapelm {

enum class LabeledFormat { kJsonl, kCsv, kTsv, kFolders };

// jsonl | csv | tsv | folders.
template <>
const EnumNames<LabeledFormat>& enum_names<LabeledFormat>();

struct LabeledDataConfig {
  LabeledFormat format = LabeledFormat::kJsonl;
  // Files or glob patterns (jsonl, csv, tsv; read in order, each pattern's matches sorted),
  // or root folders (folders: every file below <root>/<label>/ is one example of <label>).
  std::vector<std::string> sources;
  // JSON field / CSV column names. The input is the text to classify, the source sequence
  // or the prompt; the target is the label, the target sequence or the completion.
  std::string input_field = "text";
  std::string target_field = "label";
  // Field whose value ties examples together so that a split keeps them on one side (e.g.
  // the word in grapheme-to-phoneme data, whose alternate pronunciations are separate
  // examples). Empty: every example is its own group.
  std::string group_field;
  // Renames targets after reading (folders: the folder name), e.g. spam-1 -> spam and
  // spam-2 -> spam to merge folders into one label.
  std::map<std::string, std::string> label_map;
  // When non-empty, every (mapped) target must be one of these; others are an error.
  std::vector<std::string> labels;
  Utf8Policy utf8 = Utf8Policy::kError;
};

struct LabeledExample {
  std::string input;
  std::string target;
  std::string group;   // value of group_field (empty when not configured)
  std::string origin;  // "file:line" (or the file, for folders): where the example came from
};

// One record of a JSONL / CSV / TSV file: the values of the requested fields, in the order
// asked for, and "file:line" for messages.
struct FieldRecord {
  std::vector<std::string> values;
  std::string origin;
};

// Which JSON values a field may hold: strings only, or integers and booleans too (as written,
// e.g. a label 1).
enum class FieldValues { kStrings, kStringsOrScalars };

// The `fields` of every record of one file (`text`, read from `path`) of format kJsonl, kCsv
// or kTsv. Throws std::runtime_error naming file:line and the field for: bad JSON, a line that
// is not an object, a missing field or column, a value of another type than `values` allows,
// a CSV row with the wrong number of fields, an unterminated quote.
std::vector<FieldRecord> read_field_records(LabeledFormat format, const std::string& path, const std::string& text,
                                            const std::vector<std::string>& fields, FieldValues values);

// Reads every source. Throws std::runtime_error naming the file and line for: bad JSON, a
// line that is not an object, a missing field, a field of the wrong type, an empty input or
// target, an unknown label (when `labels` is set), a CSV row with the wrong number of fields,
// an unterminated quote, invalid UTF-8 (policy kError); std::invalid_argument for a bad
// config, a missing source, or sources that hold no examples.
std::vector<LabeledExample> load_labeled_examples(const LabeledDataConfig& config);

}  // namespace tapelm
