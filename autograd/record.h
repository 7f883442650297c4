// How an op joins the tape, in one place (Flashlight's Variable(result, inputs, gradFunc)):
// when recording is on and an input requires grad, the output is marked as requiring grad
// and one node is recorded, whose backward runs only if the output received a gradient.
// Ops compute their result eagerly, then call record_op with a closure that adds into the
// inputs' gradients. The node holds its output's gradient only, never its value; a closure
// captures an input as a GradHandle when it reads no value of it, and as a Var (or the value
// Tensors it reads) otherwise, so each activation returns to the pool once nothing reads it.
#pragma once

#include <initializer_list>
#include <utility>
#include <vector>

#include <tapelm/autograd/tape.h>

namespace tapelm {

namespace detail {

template <class Backward>
void record_node(Var& out, Backward backward) {
  out.set_requires_grad(true);
  out.set_tape_generation(Tape::current().generation());
  Tape::current().record([out = GradHandle(out), backward = std::move(backward)]() mutable {
    if (!out.has_grad()) return;
    backward(out.grad());
  });
}

}  // namespace detail

// The GradHandles of several Vars (the pieces of split, the inputs of concat).
inline std::vector<GradHandle> grad_handles(const std::vector<Var>& vars) {
  return std::vector<GradHandle>(vars.begin(), vars.end());
}

// `backward(const Tensor& dout)` adds d(loss)/d(input) into each input that requires grad.
// `op` names the op in the TapeError thrown for an input from a finished tape.
template <class Backward>
void record_op(const char* op, Var& out, std::initializer_list<const Var*> inputs, Backward backward) {
  if (any_requires_grad(op, inputs)) detail::record_node(out, std::move(backward));
}

template <class Backward>
void record_op(const char* op, Var& out, const std::vector<Var>& inputs, Backward backward) {
  if (any_requires_grad(op, inputs)) detail::record_node(out, std::move(backward));
}

// For an op with several outputs (split): one node for all of them, run once any has a
// gradient; `backward()` reads each output's gradient where it has one (through its own
// GradHandles: capturing the outputs as Vars would keep their values alive).
template <class Backward>
void record_op(const char* op, std::vector<Var>& outs, std::initializer_list<const Var*> inputs,
               Backward backward) {
  if (!any_requires_grad(op, inputs)) return;
  for (Var& out : outs) {
    out.set_requires_grad(true);
    out.set_tape_generation(Tape::current().generation());
  }
  Tape::current().record([outs = grad_handles(outs), backward = std::move(backward)]() mutable {
    for (const GradHandle& out : outs) {
      if (out.has_grad()) {
        backward();
        return;
      }
    }
  });
}

}  // namespace tapelm
