// The tape: backward closures recorded in execution order, so walking it in reverse
// is already a topological order. One tape per thread; ops record onto the current one.
#pragma once

#include <functional>
#include <initializer_list>
#include <vector>

#include "autograd/variable.h"

namespace tapelm {

class Tape {
 public:
  static Tape& current();

  void record(std::function<void()> backward) { nodes_.push_back(std::move(backward)); }
  // Seeds d(loss)/d(loss) = 1 (loss must have one element), runs every node in reverse,
  // then clears the tape so intermediate values and gradients return to the pool.
  void backward(Var& loss);
  void clear() { nodes_.clear(); }
  std::size_t size() const { return nodes_.size(); }

 private:
  std::vector<std::function<void()>> nodes_;
};

// Whether ops record onto the tape (false inside a NoGradGuard).
bool grad_enabled();

// Within its scope ops compute values only: nothing is recorded, outputs need no grad.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when recording is on and at least one input requires grad: the op then marks its
// output as requiring grad and records a node. Otherwise no node, no gradient work.
bool any_requires_grad(std::initializer_list<const Var*> inputs);
bool any_requires_grad(const std::vector<Var>& inputs);

// Convenience: backward on the current tape.
void backward(Var& loss);

}  // namespace tapelm
