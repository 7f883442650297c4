// EnumNames<E>: the one table of an enum's names. Parsing, printing and the list of choices
// in error messages all read it, so a name is spelled in one place. Each enum that has names
// specialises enum_names<E>() beside its declaration.
#pragma once

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tapelm {

template <class E>
class EnumNames {
 public:
  // `what` names the setting in messages ("ffn kind"); every value of E appears once.
  EnumNames(std::string what, std::initializer_list<std::pair<E, const char*>> entries)
      : what_(std::move(what)), entries_(entries) {}

  std::optional<E> find(std::string_view name) const {
    for (const auto& [value, text] : entries_) {
      if (name == text) return value;
    }
    return std::nullopt;
  }

  // Throws std::invalid_argument naming the value and the choices.
  E parse(std::string_view name) const {
    if (const std::optional<E> value = find(name)) return *value;
    throw std::invalid_argument("unknown " + what_ + " '" + std::string(name) + "' (expected " + choices() + ")");
  }

  const char* name(E value) const {
    for (const auto& [v, text] : entries_) {
      if (v == value) return text;
    }
    throw std::logic_error(what_ + ": a value with no name (" + std::to_string(static_cast<long long>(value)) + ")");
  }

  std::vector<std::string> names() const {
    std::vector<std::string> result;
    for (const auto& entry : entries_) result.emplace_back(entry.second);
    return result;
  }

  // "a, b or c".
  std::string choices() const {
    std::string text;
    for (size_t i = 0; i < entries_.size(); ++i) {
      text += (i == 0 ? "" : i + 1 == entries_.size() ? " or " : ", ") + std::string(entries_[i].second);
    }
    return text;
  }

 private:
  std::string what_;
  std::vector<std::pair<E, const char*>> entries_;
};

template <class E>
const EnumNames<E>& enum_names();

template <class E>
E parse_enum(std::string_view name) {
  return enum_names<E>().parse(name);
}

template <class E>
const char* enum_name(E value) {
  return enum_names<E>().name(value);
}

}  // namespace tapelm
