// The exceptions tapelm throws when it is used wrongly or handed a bad weights file. Each
// derives from the standard exception callers caught before these types existed
// (std::invalid_argument, std::logic_error, std::runtime_error) and from tapelm::Error, so
// `catch (const tapelm::Error& e)` takes any of them and `e.what()` says what went wrong.
#pragma once

#include <stdexcept>
#include <string>

namespace tapelm {

// The base of every tapelm error. A mixin rather than a std::exception subclass, so that each
// error keeps exactly one std::exception base (two would make `catch (std::exception&)` miss it).
class Error {
 public:
  virtual ~Error() = default;
  virtual const char* what() const noexcept = 0;
};

namespace detail {

template <class StdError>
class ErrorOf : public StdError, public Error {
 public:
  explicit ErrorOf(const std::string& message) : StdError(message) {}
  const char* what() const noexcept override { return StdError::what(); }
};

}  // namespace detail

// An op or layer got inputs whose shapes do not fit together. The message names the op and
// every shape involved: "matmul: a [2, 3] and b [4, 5]: inner dimensions differ (3 vs 4)".
class ShapeError : public detail::ErrorOf<std::invalid_argument> {
 public:
  using ErrorOf::ErrorOf;
};

// An index outside the range it selects from: a token id beyond the vocabulary, a target
// class beyond the logits, a row beyond a tensor. The message names the op, the value, its
// position and the valid range.
class IndexError : public detail::ErrorOf<std::invalid_argument> {
 public:
  using ErrorOf::ErrorOf;
};

// The tape used out of order: backward on a loss with more than one element, on a loss no
// parameter reaches (or computed under NoGradGuard), twice on the same loss, or an op
// recording a Var from a tape that has since run backward or been cleared.
class TapeError : public detail::ErrorOf<std::logic_error> {
 public:
  using ErrorOf::ErrorOf;
};

// A safetensors file that cannot be read or written as asked: missing, truncated, malformed,
// a dtype other than F32, or (loading parameters) names or shapes that differ from the
// model's. The message starts with "safetensors '<path>': ".
class SafetensorsError : public detail::ErrorOf<std::runtime_error> {
 public:
  using ErrorOf::ErrorOf;
};

}  // namespace tapelm
