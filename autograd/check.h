// Argument checks shared by the op implementations, throwing std::invalid_argument
// messages that name the op.
#pragma once

#include <stdexcept>
#include <string>

#include "autograd/variable.h"

namespace tapelm {

// Throws unless `v` holds a value; `what` names the argument (e.g. "weight").
inline void check_defined(const Var& v, const char* op, const char* what) {
  if (!v.defined()) throw std::invalid_argument(std::string(op) + ": " + what + " is an undefined Var");
}

}  // namespace tapelm
