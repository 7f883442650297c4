// Non-template half of the config schema layer: reading YAML into a ConfigDocument, overrides,
// value conversions, emitters and the stock range checks.
#include <tapelm/train/config/config_schema.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <tapelm/train/config/suggest.h>

namespace tapelm {
namespace {

std::string position(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null()) return source;
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// How a value looks in an error message: 'abc', a list, a mapping, nothing.
std::string describe_node(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "nothing (an empty value)";
  }
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// For an unknown top-level name: a key that exists inside some section is probably meant
// there ("lr" → "optimizer.lr"); otherwise the nearest top-level key or section name.
std::string top_level_suggestion(const std::string& word, const ConfigLayout& layout) {
  for (const auto& [section, keys] : layout.sections) {
    if (contains(keys, word)) return " (did you mean '" + section + "." + word + "'?)";
  }
  std::vector<std::string> candidates = layout.top_keys;
  for (const auto& [section, keys] : layout.sections) candidates.push_back(section);
  return suggestion_suffix(word, candidates);
}

std::string unknown_key_message(const std::string& section, const std::string& key,
                                const ConfigLayout& layout) {
  if (section.empty()) return "unknown top-level key '" + key + "'" + top_level_suggestion(key, layout);
  return "unknown key '" + key + "' in section '" + section + "'" +
         suggestion_suffix(key, *layout.keys_of(section));
}

std::string key_name(const YAML::Node& key, const std::string& source) {
  if (!key.IsScalar()) {
    throw ConfigError(position(source, key.Mark()) + ": expected a key name, got " + describe_node(key));
  }
  return key.Scalar();
}

// Where to report problems with a value: the value itself, or its key when the value is
// empty (yaml-cpp gives empty values no useful position).
std::string value_origin(const std::string& source, const YAML::Node& key, const YAML::Node& value) {
  return position(source, value.IsNull() || value.Mark().is_null() ? key.Mark() : value.Mark());
}

std::string read_config_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw ConfigError(path + ": config file not found");
  if (fs::is_directory(status)) throw ConfigError(path + ": is a directory, expected a YAML config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open config file: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": error reading config file");
  return text.str();
}

}  // namespace

std::string qualified_key(const std::string& section, const std::string& key) {
  return section.empty() ? key : section + "." + key;
}

const std::vector<std::string>* ConfigLayout::keys_of(const std::string& section) const {
  for (const auto& [name, keys] : sections) {
    if (name == section) return &keys;
  }
  return nullptr;
}

std::vector<std::string> ConfigLayout::section_names() const {
  std::vector<std::string> names;
  for (const auto& [name, keys] : sections) names.push_back(name);
  return names;
}

ConfigDocument ConfigDocument::from_file(const std::string& path, const ConfigLayout& layout) {
  return from_text(read_config_file(path), path, layout);
}

ConfigDocument ConfigDocument::from_text(const std::string& text, const std::string& source,
                                         const ConfigLayout& layout) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(position(source, e.mark) + ": malformed YAML: " + e.msg);
  }
  ConfigDocument document(source);
  if (root.IsNull()) return document;  // an empty file: every key defaulted (or from --set)
  if (!root.IsMap()) {
    throw ConfigError(position(source, root.Mark()) +
                      ": expected a mapping of sections at the top level, got " + describe_node(root));
  }

  // yaml-cpp keeps repeated keys, so duplicates are caught here; `first_seen` maps each
  // (section, key) to the line it first appeared on.
  std::map<std::pair<std::string, std::string>, int> first_seen;
  auto check_duplicate = [&](const std::string& section, const std::string& key, const YAML::Node& key_node) {
    const auto [it, inserted] = first_seen.emplace(std::make_pair(section, key), key_node.Mark().line + 1);
    if (!inserted) {
      const std::string what = key.empty() ? "section '" + section + "'" : "key '" + qualified_key(section, key) + "'";
      throw ConfigError(position(source, key_node.Mark()) + ": duplicate " + what + " (first given on line " +
                        std::to_string(it->second) + ")");
    }
  };

  for (auto top = root.begin(); top != root.end(); ++top) {
    // Copies: yaml-cpp's iterator-> returns a temporary proxy, so references would dangle.
    const YAML::Node name_node = top->first;
    const YAML::Node body = top->second;
    const std::string name = key_name(name_node, source);
    const std::vector<std::string>* section_keys = layout.keys_of(name);
    if (section_keys == nullptr) {
      if (!contains(layout.top_keys, name)) {
        throw ConfigError(position(source, name_node.Mark()) + ": " + unknown_key_message("", name, layout));
      }
      check_duplicate("", name, name_node);
      document.entries_[{"", name}] = ConfigEntry{body, value_origin(source, name_node, body)};
      continue;
    }
    check_duplicate(name, "", name_node);
    if (body.IsNull()) continue;  // "model:" with nothing under it: all defaults
    if (!body.IsMap()) {
      throw ConfigError(value_origin(source, name_node, body) + ": section '" + name +
                        "' must be a mapping of keys, got " + describe_node(body));
    }
    for (auto item = body.begin(); item != body.end(); ++item) {
      const YAML::Node key_node = item->first;
      const YAML::Node value = item->second;
      const std::string key = key_name(key_node, source);
      if (!contains(*section_keys, key)) {
        throw ConfigError(position(source, key_node.Mark()) + ": " + unknown_key_message(name, key, layout));
      }
      check_duplicate(name, key, key_node);
      document.entries_[{name, key}] = ConfigEntry{value, value_origin(source, key_node, value)};
    }
  }
  return document;
}

void ConfigDocument::apply_override(const std::string& assignment, const ConfigLayout& layout) {
  const std::string origin = "--set " + assignment;
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw ConfigError(origin + ": expected section.key=value (e.g. --set optimizer.lr=3e-4)");
  }
  const std::string path = assignment.substr(0, equals);
  const std::string text = assignment.substr(equals + 1);

  std::string section;
  std::string key = path;
  const size_t dot = path.find('.');
  if (dot == std::string::npos) {
    if (layout.keys_of(key) != nullptr) {
      throw ConfigError(origin + ": '" + key + "' is a section; use --set " + key + ".<key>=value");
    }
    if (!contains(layout.top_keys, key)) throw ConfigError(origin + ": " + unknown_key_message("", key, layout));
  } else {
    section = path.substr(0, dot);
    key = path.substr(dot + 1);
    const std::vector<std::string>* keys = layout.keys_of(section);
    if (keys == nullptr) {
      throw ConfigError(origin + ": unknown section '" + section + "'" +
                        suggestion_suffix(section, layout.section_names()));
    }
    if (!contains(*keys, key)) throw ConfigError(origin + ": " + unknown_key_message(section, key, layout));
  }

  YAML::Node value;
  if (!text.empty() && (text.front() == '[' || text.front() == '{')) {
    try {
      value = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw ConfigError(origin + ": malformed value: " + e.msg);
    }
  } else {
    // Plain text stays a string scalar, so shell-friendly values like data/*.txt (which YAML
    // would read as an alias) work; numbers and booleans are converted by the key's type.
    value = YAML::Node(text);
  }
  entries_[{section, key}] = ConfigEntry{value, origin};
}

const ConfigEntry* ConfigDocument::find(const std::string& section, const std::string& key) const {
  const auto it = entries_.find({section, key});
  return it == entries_.end() ? nullptr : &it->second;
}

std::string ConfigDocument::origin_of(const std::string& section, const std::string& key) const {
  const ConfigEntry* entry = find(section, key);
  return entry != nullptr ? entry->origin : source_;
}

void throw_config_error(const std::string& origin, const std::string& key, const std::string& message) {
  throw ConfigError(origin + ": " + key + ": " + message);
}

void RuleContext::fail(const std::string& key, const std::string& message) const {
  const size_t dot = key.find('.');
  const std::string section = dot == std::string::npos ? "" : key.substr(0, dot);
  const std::string name = dot == std::string::npos ? key : key.substr(dot + 1);
  throw_config_error(document_.origin_of(section, name), key, message);
}

int64_t config_to_int(const YAML::Node& node) {
  const std::string expected = "expected an integer, got ";
  if (!node.IsScalar() || node.Scalar().empty()) throw std::invalid_argument(expected + describe_node(node));
  const std::string& text = node.Scalar();
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (end != text.c_str() + text.size()) throw std::invalid_argument(expected + "'" + text + "'");
  if (errno == ERANGE) throw std::invalid_argument("integer '" + text + "' is out of range");
  return value;
}

double config_to_float(const YAML::Node& node) {
  const std::string expected = "expected a number, got ";
  if (!node.IsScalar() || node.Scalar().empty()) throw std::invalid_argument(expected + describe_node(node));
  const std::string& text = node.Scalar();
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) throw std::invalid_argument(expected + "'" + text + "'");
  if (!std::isfinite(value)) throw std::invalid_argument("expected a finite number, got '" + text + "'");
  return value;
}

bool config_to_bool(const YAML::Node& node) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    throw std::invalid_argument("expected true or false, got " + describe_node(node));
  }
  return value;
}

std::string config_to_string(const YAML::Node& node) {
  if (node.IsNull()) return "";
  if (!node.IsScalar()) throw std::invalid_argument("expected a string, got " + describe_node(node));
  return node.Scalar();
}

std::vector<std::string> config_to_string_list(const YAML::Node& node) {
  const std::string expected = "expected a string or a list of strings, got ";
  if (node.IsNull()) return {};
  if (node.IsScalar()) {
    if (node.Scalar().empty()) return {};
    return {node.Scalar()};
  }
  if (!node.IsSequence()) throw std::invalid_argument(expected + describe_node(node));
  std::vector<std::string> items;
  for (const YAML::Node& item : node) {
    if (!item.IsScalar()) throw std::invalid_argument(expected + "a list containing " + describe_node(item));
    items.push_back(item.Scalar());
  }
  return items;
}

void emit_config_value(YAML::Emitter& out, int64_t value) { out << static_cast<long long>(value); }
void emit_config_value(YAML::Emitter& out, double value) { out << format_float(value); }
void emit_config_value(YAML::Emitter& out, bool value) { out << (value ? "true" : "false"); }
void emit_config_value(YAML::Emitter& out, const std::string& value) { out << YAML::DoubleQuoted << value; }
void emit_config_value(YAML::Emitter& out, const std::vector<std::string>& value) {
  out << YAML::Flow << YAML::BeginSeq;
  for (const std::string& item : value) out << YAML::DoubleQuoted << item;
  out << YAML::EndSeq;
}

std::string yaml_comment(const std::string& text) {
  std::string result;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) result += line.empty() ? "#\n" : "# " + line + "\n";
  return result;
}

std::string format_float(double value) {
  std::string text = format_number(value);
  // Keep it recognisably a float for readers of the YAML ("1.0", not "1").
  if (std::isfinite(value) && text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string format_number(double value) {
  char buffer[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

Check<int64_t> at_least(int64_t lo) {
  return [lo](const int64_t& v) {
    return v >= lo ? std::string() : "must be >= " + std::to_string(lo) + ", got " + std::to_string(v);
  };
}

Check<int64_t> in_range(int64_t lo, int64_t hi, const std::string& why_hi) {
  return [lo, hi, why_hi](const int64_t& v) {
    if (v >= lo && v <= hi) return std::string();
    return "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (" + why_hi + "), got " +
           std::to_string(v);
  };
}

Check<double> above(double lo) {
  return [lo](const double& v) {
    return v > lo ? std::string() : "must be > " + format_number(lo) + ", got " + format_number(v);
  };
}

Check<double> non_negative() {
  return [](const double& v) { return v >= 0 ? std::string() : "must be >= 0, got " + format_number(v); };
}

Check<double> in_interval(double lo, double hi, bool include_lo, bool include_hi) {
  return [=](const double& v) {
    const bool ok = (include_lo ? v >= lo : v > lo) && (include_hi ? v <= hi : v < hi);
    if (ok) return std::string();
    return "must be in " + std::string(include_lo ? "[" : "(") + format_number(lo) + ", " + format_number(hi) +
           (include_hi ? "]" : ")") + ", got " + format_number(v);
  };
}

Check<std::string> one_of(std::vector<std::string> choices) {
  return [choices = std::move(choices)](const std::string& v) {
    if (contains(choices, v)) return std::string();
    std::string list;
    for (const std::string& c : choices) list += (list.empty() ? "" : ", ") + c;
    const std::string match = closest_match(v, choices);
    return "must be one of " + list + ", got '" + v + "'" + (match.empty() ? "" : " (did you mean '" + match + "'?)");
  };
}

}  // namespace tapelm
