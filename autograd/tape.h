// The tape: backward closures recorded in execution order, so walking it in reverse
// is already a topological order. One tape per thread; ops record onto the current one.
// Misuse (backward twice, on a non-scalar, through a Var of a finished tape) throws TapeError.
#pragma once

#include <functional>
#include <initializer_list>
#include <vector>

#include <tapelm/autograd/errors.h>
#include <tapelm/autograd/variable.h>

namespace tapelm {

class Tape {
 public:
  static Tape& current();
  Tape();

  void record(std::function<void()> backward) { nodes_.push_back(std::move(backward)); }
  // Seeds d(loss)/d(loss) = 1, runs every node in reverse, then clears the tape so
  // intermediate values and gradients return to the pool. Throws TapeError when loss has
  // more than one element, requires no grad (the tape is then cleared), or was recorded
  // before the last backward or clear (or on another thread's tape).
  void backward(Var& loss);
  // Drops every node. Vars recorded so far can still be read, but an op that would record
  // them again throws TapeError: their path to the parameters is gone.
  void clear();
  std::size_t size() const { return nodes_.size(); }
  // Changes at every backward and clear and is unique across the threads' tapes; ops stamp
  // it on the Vars they record (Var::tape_generation).
  uint64_t generation() const { return generation_; }

 private:
  std::vector<std::function<void()>> nodes_;
  uint64_t generation_;
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
// Throws TapeError naming `op` when such an input was recorded on an earlier generation of
// the tape, where its gradient would silently stop.
bool any_requires_grad(const char* op, std::initializer_list<const Var*> inputs);
bool any_requires_grad(const char* op, const std::vector<Var>& inputs);

// Convenience: backward on the current tape.
void backward(Var& loss);

}  // namespace tapelm
