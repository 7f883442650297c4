// Error types for problems the user can fix (bad usage, config or input files). The command
// line maps these to exit code 2 and everything else to exit code 1.
#pragma once

#include <stdexcept>

namespace tapelm {

// Bad input from the user: a missing or malformed file, an invalid option value, a
// corrupted checkpoint they pointed us at.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A config file or --set override that cannot be loaded; the message names file:line:column
// (or the override) and the key.
class ConfigError : public InputError {
 public:
  using InputError::InputError;
};

}  // namespace tapelm
