// Reusable schema layer for YAML configs. A ConfigSchema<Root> is a list of sections, each a
// SectionSchema: a table of keys bound to struct members (the type comes from the member, the
// default is the member's initial value, plus an optional range check). Loading turns a YAML
// file plus `--set section.key=value` overrides into a Root; every error names where the value
// came from (file:line:column, 1-based, or the --set override) and the key. Cross-key checks
// (rules) and derived defaults (resolvers) run after all keys are parsed.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <tapelm/data/enum_names.h>
#include <tapelm/train/config/errors.h>

namespace tapelm {

// "section.key", or just "key" for top-level keys (section "").
std::string qualified_key(const std::string& section, const std::string& key);

// Which sections and keys a schema accepts; top-level keys live in section "".
struct ConfigLayout {
  std::vector<std::string> top_keys;
  std::vector<std::pair<std::string, std::vector<std::string>>> sections;

  // The keys of a section, or nullptr if there is no such section.
  const std::vector<std::string>* keys_of(const std::string& section) const;
  std::vector<std::string> section_names() const;
};

// One key's value and where it came from ("run.yaml:4:12" or "--set model.n_head=6").
struct ConfigEntry {
  YAML::Node value;
  std::string origin;
};

// A YAML config flattened to (section, key) → entry, with unknown and duplicate keys rejected
// up front, then any command-line overrides applied on top.
class ConfigDocument {
 public:
  // Throws ConfigError for a missing/unreadable file, malformed YAML, a non-mapping section,
  // unknown keys (with a "did you mean" suggestion) and duplicate keys.
  static ConfigDocument from_file(const std::string& path, const ConfigLayout& layout);
  static ConfigDocument from_text(const std::string& text, const std::string& source,
                                  const ConfigLayout& layout);

  // `section.key=value`, or `key=value` for a top-level key. A value starting with '[' or '{'
  // is parsed as a YAML flow list/mapping; anything else is taken as a plain scalar.
  void apply_override(const std::string& assignment, const ConfigLayout& layout);

  const ConfigEntry* find(const std::string& section, const std::string& key) const;
  // Where to point an error about this key: its value's origin, or the file if it was defaulted.
  std::string origin_of(const std::string& section, const std::string& key) const;
  const std::string& source() const { return source_; }

 private:
  explicit ConfigDocument(std::string source) : source_(std::move(source)) {}

  std::string source_;
  std::map<std::pair<std::string, std::string>, ConfigEntry> entries_;
};

// Throws ConfigError("<origin>: <key>: <message>").
[[noreturn]] void throw_config_error(const std::string& origin, const std::string& key,
                                     const std::string& message);

// Value conversions. Each throws std::invalid_argument("expected an integer, got 'abc'")-style
// messages that the schema prefixes with origin and key. An empty value (null) reads as "" for
// strings and as an empty list for lists; a single string is accepted as a one-element list.
int64_t config_to_int(const YAML::Node& node);
double config_to_float(const YAML::Node& node);  // finite values only
bool config_to_bool(const YAML::Node& node);
std::string config_to_string(const YAML::Node& node);
std::vector<std::string> config_to_string_list(const YAML::Node& node);

template <class T>
T config_value(const YAML::Node& node);
template <>
inline int64_t config_value<int64_t>(const YAML::Node& n) { return config_to_int(n); }
template <>
inline double config_value<double>(const YAML::Node& n) { return config_to_float(n); }
template <>
inline bool config_value<bool>(const YAML::Node& n) { return config_to_bool(n); }
template <>
inline std::string config_value<std::string>(const YAML::Node& n) { return config_to_string(n); }
template <>
inline std::vector<std::string> config_value<std::vector<std::string>>(const YAML::Node& n) {
  return config_to_string_list(n);
}

// Emitters used by to_yaml; floats use the shortest text that reads back to the same double,
// strings are always double-quoted so "yes" or "123" stay strings.
void emit_config_value(YAML::Emitter& out, int64_t value);
void emit_config_value(YAML::Emitter& out, double value);
void emit_config_value(YAML::Emitter& out, bool value);
void emit_config_value(YAML::Emitter& out, const std::string& value);
void emit_config_value(YAML::Emitter& out, const std::vector<std::string>& value);

// Each line of `text` prefixed with "# " (empty text → "").
std::string yaml_comment(const std::string& text);

// Shortest decimal text that parses back to exactly `value` ("0.001", "3e-08", "1.0").
std::string format_float(double value);
// The same without the forced ".0", for messages ("must be in [0, 1), got 1").
std::string format_number(double value);

// A range/choice check on a parsed value: "" if acceptable, else the problem
// ("must be >= 1, got 0").
template <class T>
using Check = std::function<std::string(const T&)>;

Check<int64_t> at_least(int64_t lo);
// lo <= v <= hi; `why_hi` says where the upper limit comes from ("a 32-bit int").
Check<int64_t> in_range(int64_t lo, int64_t hi, const std::string& why_hi);
// The upper limit of keys whose value lands in an int (vocabulary sizes: token ids are int32).
inline constexpr int64_t kMaxInt32 = 2147483647;
Check<double> above(double lo);   // > lo
Check<double> non_negative();     // >= 0
Check<double> in_interval(double lo, double hi, bool include_lo, bool include_hi);
Check<std::string> one_of(std::vector<std::string> choices);
// A key whose values are an enum's names (data/enum_names.h): the table is the list.
template <class E>
Check<std::string> one_of(const EnumNames<E>& names) {
  return one_of(names.names());
}

// The enum value `value` names, for the builders that turn a validated config into option
// structs; a value that skipped validation (a section filled in code) gets the same
// ConfigError loading would give, naming `key` ("model.norm") and the choices.
template <class E>
E config_enum(const std::string& key, const std::string& value) {
  if (const std::optional<E> found = enum_names<E>().find(value)) return *found;
  throw ConfigError(key + ": " + one_of(enum_names<E>())(value));
}
template <class T>  // std::string or std::vector<std::string>
Check<T> non_empty() {
  return [](const T& value) { return value.empty() ? std::string("must not be empty") : std::string(); };
}

// Given to cross-key rules so their errors point at the offending key's origin.
class RuleContext {
 public:
  explicit RuleContext(const ConfigDocument& document) : document_(document) {}
  // `key` is qualified ("model.n_head"); the message says what is wrong and what was expected.
  void require(bool ok, const std::string& key, const std::string& message) const {
    if (!ok) fail(key, message);
  }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  const ConfigDocument& document_;
};

namespace schema_detail {
template <class T>
struct NonDeduced {
  using type = T;
};
}  // namespace schema_detail

// The keys of one section, bound to the members of the struct S that holds them.
template <class S>
class SectionSchema {
 public:
  struct Field {
    std::string key;
    bool required;
    std::function<void(S&, const YAML::Node&)> parse;  // converts + checks; throws invalid_argument
    std::function<void(YAML::Emitter&, const S&)> emit;
  };

  // An optional key: absent → the member keeps its initial value (the default). The member may
  // belong to a base of S (the keys every config kind shares live in RunConfig).
  template <class T, class B>
  SectionSchema& add(const std::string& key, T B::*member,
                     typename schema_detail::NonDeduced<Check<T>>::type check = {}) {
    return add_field(key, member, std::move(check), false);
  }
  template <class T, class B>
  SectionSchema& add_required(const std::string& key, T B::*member,
                              typename schema_detail::NonDeduced<Check<T>>::type check = {}) {
    return add_field(key, member, std::move(check), true);
  }

  const std::vector<Field>& fields() const { return fields_; }
  std::vector<std::string> keys() const {
    std::vector<std::string> names;
    for (const Field& f : fields_) names.push_back(f.key);
    return names;
  }

  // Parses every key of `section` present in the document into `target`.
  void parse(const std::string& section, const ConfigDocument& document, S& target) const {
    for (const Field& field : fields_) {
      const ConfigEntry* entry = document.find(section, field.key);
      if (entry == nullptr) {
        if (field.required) {
          const std::string name = qualified_key(section, field.key);
          throw ConfigError(document.source() + ": missing required key '" + name +
                            "' (add it to the file or pass --set " + name + "=...)");
        }
        continue;
      }
      try {
        field.parse(target, entry->value);
      } catch (const std::invalid_argument& e) {
        throw_config_error(entry->origin, qualified_key(section, field.key), e.what());
      }
    }
  }

  // What loading would say is wrong with `value` for `key` ("must be >= 0, got -1"), or "" if
  // it would be accepted: the same conversion and check, for values given some other way.
  std::string problem_with(const std::string& key, const YAML::Node& value) const {
    for (const Field& field : fields_) {
      if (field.key != key) continue;
      S scratch{};
      try {
        field.parse(scratch, value);
      } catch (const std::invalid_argument& e) {
        return e.what();
      }
      return {};
    }
    throw std::logic_error("config schema: no key '" + key + "'");
  }

  // Emits "key: value" pairs into an open YAML map.
  void emit(YAML::Emitter& out, const S& source) const {
    for (const Field& field : fields_) {
      out << YAML::Key << field.key << YAML::Value;
      field.emit(out, source);
    }
  }

 private:
  template <class T, class B>
  SectionSchema& add_field(const std::string& key, T B::*member, Check<T> check, bool required) {
    static_assert(std::is_base_of_v<B, S>, "the member must belong to the section's struct or a base of it");
    for (const Field& f : fields_) {
      if (f.key == key) throw std::logic_error("config schema: key '" + key + "' added twice");
    }
    fields_.push_back(Field{
        key, required,
        [member, check](S& target, const YAML::Node& node) {
          T value = config_value<T>(node);
          if (check) {
            const std::string problem = check(value);
            if (!problem.empty()) throw std::invalid_argument(problem);
          }
          target.*member = std::move(value);
        },
        [member](YAML::Emitter& out, const S& source) { emit_config_value(out, source.*member); }});
    return *this;
  }

  std::vector<Field> fields_;
};

// A whole config file: top-level keys, sections, derived defaults and cross-key rules.
template <class Root>
class ConfigSchema {
 public:
  ConfigSchema& top_level(SectionSchema<Root> fields) {
    top_keys_ = fields.keys();
    top_ = std::move(fields);
    return *this;
  }

  // `member` may belong to a base of Root (the sections every config kind shares).
  template <class S, class B>
  ConfigSchema& section(const std::string& name, S B::*member, SectionSchema<S> fields) {
    static_assert(std::is_base_of_v<B, Root>, "the section must belong to the config or a base of it");
    for (const Section& s : sections_) {
      if (s.name == name) throw std::logic_error("config schema: section '" + name + "' added twice");
    }
    sections_.push_back(Section{
        name, fields.keys(),
        [name, member, fields](const ConfigDocument& doc, Root& root) { fields.parse(name, doc, root.*member); },
        [member, fields](YAML::Emitter& out, const Root& root) { fields.emit(out, root.*member); },
        [fields](const std::string& key, const YAML::Node& value) { return fields.problem_with(key, value); }});
    return *this;
  }

  // Fills values that default to something derived from other keys (runs before the rules).
  ConfigSchema& resolver(std::function<void(Root&)> step) {
    resolvers_.push_back(std::move(step));
    return *this;
  }

  // Where loading records the keys the file or `--set` gave, qualified, with their origins:
  // for decisions that depend on whether a key was set at all, not only on its value.
  ConfigSchema& given_keys(std::map<std::string, std::string> Root::*member) {
    given_keys_ = member;
    return *this;
  }

  // A check involving several keys, e.g. "n_head divides n_embd".
  ConfigSchema& rule(std::function<void(const Root&, const RuleContext&)> check) {
    rules_.push_back(std::move(check));
    return *this;
  }

  ConfigLayout layout() const {
    ConfigLayout result;
    result.top_keys = top_keys_;
    for (const Section& s : sections_) result.sections.emplace_back(s.name, s.keys);
    return result;
  }

  Root load_file(const std::string& path, const std::vector<std::string>& overrides = {}) const {
    return build(ConfigDocument::from_file(path, layout()), overrides);
  }

  Root load_text(const std::string& text, const std::string& source,
                 const std::vector<std::string>& overrides = {}) const {
    return build(ConfigDocument::from_text(text, source, layout()), overrides);
  }

  // Applies `overrides` (in order) to the document, then parses, resolves and checks it.
  Root build(ConfigDocument document, const std::vector<std::string>& overrides = {}) const {
    const ConfigLayout shape = layout();
    for (const std::string& assignment : overrides) document.apply_override(assignment, shape);
    Root root{};
    top_.parse("", document, root);
    for (const Section& s : sections_) s.parse(document, root);
    if (given_keys_ != nullptr) {
      for (const auto& [section, keys] : shape.sections) {
        for (const std::string& key : keys) {
          if (document.find(section, key) != nullptr) {
            (root.*given_keys_)[qualified_key(section, key)] = document.origin_of(section, key);
          }
        }
      }
    }
    for (const auto& step : resolvers_) step(root);
    const RuleContext context(document);
    for (const auto& check : rules_) check(root, context);
    return root;
  }

  // SectionSchema::problem_with for a qualified key ("sample.top_p", or "seed" at the top level).
  std::string problem_with(const std::string& key, const YAML::Node& value) const {
    const size_t dot = key.find('.');
    if (dot == std::string::npos) return top_.problem_with(key, value);
    for (const Section& s : sections_) {
      if (s.name == key.substr(0, dot)) return s.problem_with(key.substr(dot + 1), value);
    }
    throw std::logic_error("config schema: no section for '" + key + "'");
  }

  // The comment line to_yaml writes above the keys by default.
  ConfigSchema& title(std::string text) {
    title_ = std::move(text);
    return *this;
  }

  // Every key with its value, in schema order, below the title as a comment.
  std::string to_yaml(const Root& root) const { return to_yaml(root, title_); }

  // Every key with its value, in schema order; `header` lines are written as comments.
  std::string to_yaml(const Root& root, const std::string& header) const {
    YAML::Emitter out;
    out << YAML::BeginMap;
    top_.emit(out, root);
    for (const Section& s : sections_) {
      out << YAML::Key << s.name << YAML::Value << YAML::BeginMap;
      s.emit(out, root);
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
    return yaml_comment(header) + out.c_str() + "\n";
  }

 private:
  struct Section {
    std::string name;
    std::vector<std::string> keys;
    std::function<void(const ConfigDocument&, Root&)> parse;
    std::function<void(YAML::Emitter&, const Root&)> emit;
    std::function<std::string(const std::string&, const YAML::Node&)> problem_with;
  };

  std::string title_;
  SectionSchema<Root> top_;
  std::vector<std::string> top_keys_;
  std::vector<Section> sections_;
  std::map<std::string, std::string> Root::*given_keys_ = nullptr;
  std::vector<std::function<void(Root&)>> resolvers_;
  std::vector<std::function<void(const Root&, const RuleContext&)>> rules_;
};

}  // namespace tapelm
