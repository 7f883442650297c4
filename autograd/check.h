// Argument checks shared by the op implementations, and the error types they throw
// (ShapeError, IndexError: autograd/errors.h); every message names the op.
#pragma once

#include <stdexcept>
#include <string>

#include <tapelm/autograd/errors.h>
#include <tapelm/autograd/variable.h>

namespace tapelm {

// Throws unless `v` holds a value; `what` names the argument (e.g. "weight").
inline void check_defined(const Var& v, const char* op, const char* what) {
  if (!v.defined()) throw std::invalid_argument(std::string(op) + ": " + what + " is an undefined Var");
}

}  // namespace tapelm
