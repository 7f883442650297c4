// Error types for problems the user can fix (bad usage, config or input files). The command
// line maps these to exit code 2 and everything else to exit code 1.
#pragma once

#include <stdexcept>

#include <tapelm/autograd/errors.h>

namespace tapelm {

// Bad input from the user: a missing or malformed file, an invalid option value, a
// corrupted checkpoint they pointed us at. A tapelm::Error like the library's other errors.
class InputError : public detail::ErrorOf<std::runtime_error> {
 public:
  using detail::ErrorOf<std::runtime_error>::ErrorOf;
};

// A config file or --set override that cannot be loaded; the message names file:line:column
// (or the override) and the key.
class ConfigError : public InputError {
 public:
  using InputError::InputError;
};

}  // namespace tapelm
