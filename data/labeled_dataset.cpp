// Labeled examples: files are found and read (BOM, UTF-8 policy) through Corpus, then parsed
// per format; every error names the file and line.
#include "data/labeled_dataset.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

#include "data/corpus.h"
#include "data/csv.h"

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

// A JSON field as text: strings as they are, integers and booleans as written.
std::string json_field(const nlohmann::json& object, const std::string& name, const std::string& where) {
  const auto it = object.find(name);
  if (it == object.end()) {
    std::vector<std::string> present;
    for (const auto& item : object.items()) present.push_back(item.key());
    throw std::runtime_error(where + ": missing field '" + name + "' (the object has: " + join(present) + ")");
  }
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer() || it->is_boolean()) return it->dump();
  throw std::runtime_error(where + ": field '" + name + "' is " + it->type_name() +
                           ", expected a string (or an integer label)");
}

void parse_jsonl(const LabeledDataConfig& config, const std::string& path, const std::string& text,
                 std::vector<LabeledExample>& out) {
  size_t line = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line;
    const std::string_view row(text.data() + start, end - start);
    start = end + 1;
    if (is_blank(row)) continue;
    const std::string where = path + ":" + std::to_string(line);
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(row);
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error(where + ": bad JSON: " + e.what());
    }
    if (!object.is_object()) {
      throw std::runtime_error(where + ": expected a JSON object per line, got " + std::string(object.type_name()));
    }
    std::string group = config.group_field.empty() ? "" : json_field(object, config.group_field, where);
    add_example(config, json_field(object, config.input_field, where), json_field(object, config.target_field, where),
                std::move(group), where, out);
  }
}

size_t column_of(const std::vector<std::string>& header, const std::string& name, const std::string& path) {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) {
    throw std::runtime_error(path + ":1: no column '" + name + "' in the header (columns: " + join(header) + ")");
  }
  return static_cast<size_t>(it - header.begin());
}

void parse_delimited_file(const LabeledDataConfig& config, char delimiter, const std::string& path,
                          const std::string& text, std::vector<LabeledExample>& out) {
  std::vector<DelimitedRecord> records = parse_delimited(text, delimiter, path);
  if (records.empty()) throw std::runtime_error(path + ": no header row (the file is empty)");
  const std::vector<std::string>& header = records.front().fields;
  const size_t input = column_of(header, config.input_field, path);
  const size_t target = column_of(header, config.target_field, path);
  const bool grouped = !config.group_field.empty();
  const size_t group = grouped ? column_of(header, config.group_field, path) : 0;
  for (size_t r = 1; r < records.size(); ++r) {
    DelimitedRecord& record = records[r];
    const std::string where = path + ":" + std::to_string(record.line);
    if (record.fields.size() != header.size()) {
      throw std::runtime_error(where + ": " + std::to_string(record.fields.size()) + " fields where the header has " +
                               std::to_string(header.size()));
    }
    add_example(config, std::move(record.fields[input]), std::move(record.fields[target]),
                grouped ? record.fields[group] : std::string(), where, out);
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
    for (size_t i = 0; i < corpus.size(); ++i) {
      const std::string& path = corpus.files()[i].path;
      const std::string text = corpus.read(i);
      switch (config.format) {
        case LabeledFormat::kJsonl: parse_jsonl(config, path, text, examples); break;
        case LabeledFormat::kCsv: parse_delimited_file(config, ',', path, text, examples); break;
        case LabeledFormat::kTsv: parse_delimited_file(config, '\t', path, text, examples); break;
        case LabeledFormat::kFolders: break;
      }
    }
  }
  if (examples.empty()) {
    throw std::invalid_argument("labeled data: the sources (" + join(config.sources) + ") hold no examples");
  }
  return examples;
}

}  // namespace tapelm
