// Tape recording state and the reverse walk.
#include "autograd/tape.h"

#include <stdexcept>

namespace tapelm {

namespace {
thread_local bool g_grad_enabled = true;
}

Tape& Tape::current() {
  thread_local Tape tape;
  return tape;
}

void Tape::backward(Var& loss) {
  if (loss.numel() != 1) {
    throw std::invalid_argument("backward: loss must have one element, got shape " +
                                shape_str(loss.shape()));
  }
  if (!loss.requires_grad()) {
    clear();
    throw std::invalid_argument("backward: loss does not require grad (no parameter reaches it)");
  }
  loss.add_grad(Tensor::full(loss.shape(), 1.0f));
  // Pop as we go so each closure (and what it holds) is freed as soon as it has run.
  while (!nodes_.empty()) {
    std::function<void()> node = std::move(nodes_.back());
    nodes_.pop_back();
    node();
  }
}

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

bool any_requires_grad(std::initializer_list<const Var*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Var* v : inputs) {
    if (v && v->defined() && v->requires_grad()) return true;
  }
  return false;
}

bool any_requires_grad(const std::vector<Var>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Var& v : inputs) {
    if (v.defined() && v.requires_grad()) return true;
  }
  return false;
}

void backward(Var& loss) { Tape::current().backward(loss); }

}  // namespace tapelm
