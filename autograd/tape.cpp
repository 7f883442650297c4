// Tape recording state and the reverse walk.
#include <tapelm/autograd/tape.h>

#include <atomic>

namespace tapelm {

namespace {

thread_local bool g_grad_enabled = true;

// Generations are numbered across all threads, so a Var carried to another thread never
// matches that thread's tape by accident. 0 is left for leaves.
uint64_t next_generation() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

// A Var recorded on an earlier generation (or another thread's tape): the nodes linking
// it to the parameters are gone.
bool recorded_elsewhere(const Var& v) {
  return v.tape_generation() != 0 && v.tape_generation() != Tape::current().generation();
}

bool requires_grad_here(const Var& v, const char* op) {
  if (!v.defined() || !v.requires_grad()) return false;
  if (recorded_elsewhere(v)) {
    throw TapeError(std::string(op) + ": an input of shape " + shape_str(v.shape()) +
                    " was computed before the last backward() or Tape::clear(), so its gradient "
                    "cannot reach the parameters; compute it again, or use Var(v.value()) for a constant");
  }
  return true;
}

}  // namespace

Tape::Tape() : generation_(next_generation()) {}

Tape& Tape::current() {
  thread_local Tape tape;
  return tape;
}

void Tape::clear() {
  nodes_.clear();
  generation_ = next_generation();
}

void Tape::backward(Var& loss) {
  if (!loss.defined()) throw TapeError("backward: loss is an undefined Var");
  if (loss.numel() != 1) {
    throw TapeError("backward: loss must have one element, got shape " + shape_str(loss.shape()) +
                    " (reduce it first, e.g. with mean_all)");
  }
  if (!loss.requires_grad()) {
    clear();
    throw TapeError("backward: loss does not require grad: no parameter reaches it, or it was computed "
                    "inside a NoGradGuard");
  }
  if (recorded_elsewhere(loss)) {
    throw TapeError("backward: loss was computed before the last backward() or Tape::clear() (backward "
                    "twice on one loss?); run the forward pass again");
  }
  loss.add_grad(Tensor::full(loss.shape(), 1.0f));
  // Pop as we go so each closure (and what it holds) is freed as soon as it has run.
  while (!nodes_.empty()) {
    std::function<void()> node = std::move(nodes_.back());
    nodes_.pop_back();
    node();
  }
  generation_ = next_generation();
}

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

bool any_requires_grad(const char* op, std::initializer_list<const Var*> inputs) {
  if (!g_grad_enabled) return false;
  bool any = false;
  for (const Var* v : inputs) any = (v && requires_grad_here(*v, op)) || any;
  return any;
}

bool any_requires_grad(const char* op, const std::vector<Var>& inputs) {
  if (!g_grad_enabled) return false;
  bool any = false;
  for (const Var& v : inputs) any = requires_grad_here(v, op) || any;
  return any;
}

void backward(Var& loss) { Tape::current().backward(loss); }

}  // namespace tapelm
