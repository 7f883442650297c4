// Labeled examples: files are found and read (BOM, UTF-8 policy) through Corpus, then parsed
// per format; every error names the file and line.
#include <tapelm/data/labeled_dataset.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

#include <tapelm/data/corpus.h>
#include <tapelm/data/csv.h>

namespace fs = std::filesystem;

namespace tapelm {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

bool is_blank(std::string_view text) { return text.find_first_not_of(" \t\r\n") == std::string::npos; }

// Applies the label map and checks the example against the config; `where` is "file:line".
void add_example(const LabeledDataConfig& config, std::string input, std::string target, std::string group,
                 std::string where, std::vector<LabeledExample>& out) {
  if (is_blank(input)) throw std::runtime_error(where + ": empty text in '" + config.input_field + "'");
  const auto mapped = config.label_map.find(target);
  if (mapped != config.label_map.end()) target = mapped->second;
  if (is_blank(target)) throw std::runtime_error(where + ": empty target in '" + config.target_field + "'");
  if (!config.labels.empty() && std::find(config.labels.begin(), config.labels.end(), target) == config.labels.end()) {
    throw std::runtime_error(where + ": unknown label '" + target + "' (expected one of: " + join(config.labels) + ")");
  }
  out.push_back({std::move(input), std::move(target), std::move(group), std::move(where)});
}

// A JSON field as text: strings as they are, integers and booleans as written when allowed.
std::string json_field(const nlohmann::json& object, const std::string& name, const std::string& where,
                       FieldValues values) {
  const auto it = object.find(name);
  if (it == object.end()) {
    std::vector<std::string> present;
    for (const auto& item : object.items()) present.push_back(item.key());
    throw std::runtime_error(where + ": missing field '" + name + "' (the object has: " + join(present) + ")");
  }
  if (it->is_string()) return it->get<std::string>();
  const bool scalars = values == FieldValues::kStringsOrScalars;
  if (scalars && (it->is_number_integer() || it->is_boolean())) return it->dump();
  throw std::runtime_error(where + ": field '" + name + "' is " + it->type_name() + ", expected a string" +
                           (scalars ? " (or an integer label)" : ""));
}

void read_jsonl(const std::string& path, const std::string& text, const std::vector<std::string>& fields,
                FieldValues values, std::vector<FieldRecord>& out) {
  size_t line = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line;
    const std::string_view row(text.data() + start, end - start);
    start = end + 1;
    if (is_blank(row)) continue;
    FieldRecord record;
    record.origin = path + ":" + std::to_string(line);
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(row);
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error(record.origin + ": bad JSON: " + e.what());
    }
    if (!object.is_object()) {
      throw std::runtime_error(record.origin + ": expected a JSON object per line, got " +
                               std::string(object.type_name()));
    }
    for (const std::string& field : fields) record.values.push_back(json_field(object, field, record.origin, values));
    out.push_back(std::move(record));
  }
}

size_t column_of(const std::vector<std::string>& header, const std::string& name, const std::string& path) {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) {
    throw std::runtime_error(path + ":1: no column '" + name + "' in the header (columns: " + join(header) + ")");
  }
  return static_cast<size_t>(it - header.begin());
}

void read_delimited(char delimiter, const std::string& path, const std::string& text,
                    const std::vector<std::string>& fields, std::vector<FieldRecord>& out) {
  std::vector<DelimitedRecord> records = parse_delimited(text, delimiter, path);
  if (records.empty()) throw std::runtime_error(path + ": no header row (the file is empty)");
  const std::vector<std::string>& header = records.front().fields;
  std::vector<size_t> columns;
  for (const std::string& field : fields) columns.push_back(column_of(header, field, path));
  for (size_t r = 1; r < records.size(); ++r) {
    DelimitedRecord& row = records[r];
    FieldRecord record;
    record.origin = path + ":" + std::to_string(row.line);
    if (row.fields.size() != header.size()) {
      throw std::runtime_error(record.origin + ": " + std::to_string(row.fields.size()) +
                               " fields where the header has " + std::to_string(header.size()));
    }
    for (size_t column : columns) record.values.push_back(row.fields[column]);
    out.push_back(std::move(record));
  }
}

void load_folder_tree(const LabeledDataConfig& config, const std::string& root, std::vector<LabeledExample>& out) {
  if (!fs::is_directory(root)) {
    throw std::invalid_argument("labeled data: source '" + root + "' is not a folder (format 'folders' expects " +
                                "<root>/<label>/<file>)");
  }
  CorpusConfig corpus_config;
  corpus_config.sources = {root};
  corpus_config.utf8 = config.utf8;
  const Corpus corpus(corpus_config);
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::string& path = corpus.files()[i].path;
    const fs::path relative = fs::path(path).lexically_relative(root);
    if (std::distance(relative.begin(), relative.end()) < 2) {
      throw std::runtime_error(path + ": file directly in the root folder '" + root +
                               "'; each example must be inside a label folder (<root>/<label>/<file>)");
    }
    add_example(config, corpus.read(i), relative.begin()->string(), "", path, out);
  }
}

}  // namespace

std::vector<FieldRecord> read_field_records(LabeledFormat format, const std::string& path, const std::string& text,
                                            const std::vector<std::string>& fields, FieldValues values) {
  std::vector<FieldRecord> records;
  switch (format) {
    case LabeledFormat::kJsonl: read_jsonl(path, text, fields, values, records); break;
    case LabeledFormat::kCsv: read_delimited(',', path, text, fields, records); break;
    case LabeledFormat::kTsv: read_delimited('\t', path, text, fields, records); break;
    case LabeledFormat::kFolders:
      throw std::invalid_argument("read_field_records: format 'folders' has no records");
  }
  return records;
}

template <>
const EnumNames<LabeledFormat>& enum_names<LabeledFormat>() {
  static const EnumNames<LabeledFormat> names("format", {{LabeledFormat::kJsonl, "jsonl"},
                                                         {LabeledFormat::kCsv, "csv"},
                                                         {LabeledFormat::kTsv, "tsv"},
                                                         {LabeledFormat::kFolders, "folders"}});
  return names;
}

std::vector<LabeledExample> load_labeled_examples(const LabeledDataConfig& config) {
  if (config.sources.empty()) throw std::invalid_argument("labeled data: no sources given");
  if (config.input_field.empty() || config.target_field.empty()) {
    throw std::invalid_argument("labeled data: input_field and target_field must be non-empty");
  }
  std::vector<LabeledExample> examples;
  if (config.format == LabeledFormat::kFolders) {
    for (const std::string& root : config.sources) load_folder_tree(config, root, examples);
  } else {
    CorpusConfig corpus_config;
    corpus_config.sources = config.sources;
    corpus_config.utf8 = config.utf8;
    const Corpus corpus(corpus_config);
    std::vector<std::string> fields = {config.input_field, config.target_field};
    if (!config.group_field.empty()) fields.push_back(config.group_field);
    for (size_t i = 0; i < corpus.size(); ++i) {
      for (FieldRecord& record : read_field_records(config.format, corpus.files()[i].path, corpus.read(i), fields,
                                                    FieldValues::kStringsOrScalars)) {
        std::string group = fields.size() > 2 ? std::move(record.values[2]) : std::string();
        add_example(config, std::move(record.values[0]), std::move(record.values[1]), std::move(group),
                    std::move(record.origin), examples);
      }
    }
  }
  if (examples.empty()) {
    throw std::invalid_argument("labeled data: the sources (" + join(config.sources) + ") hold no examples");
  }
  return examples;
}

}  // namespace tapelm
