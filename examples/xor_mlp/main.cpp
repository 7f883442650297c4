// tapelm's "hello world": a two-layer MLP (2 → 8 tanh → 2) learns XOR with the tape and SGD.
// Exits 0 when all four inputs are classified right, 1 otherwise.
#include <cstdio>
#include <memory>
#include <vector>

#include <tapelm/tapelm.h>  // everything; single headers work too, e.g. <tapelm/nn/linear.h>

using namespace tapelm;

// Modules register their parameters and submodules by name, as in PyTorch.
class Mlp : public Module {
 public:
  explicit Mlp(Rng& rng)
      : hidden_(register_module("hidden", std::make_shared<Linear>(2, 8, /*bias=*/true, rng, /*init_std=*/1.0f))),
        out_(register_module("out", std::make_shared<Linear>(8, 2, /*bias=*/true, rng, /*init_std=*/1.0f))) {}

  Var forward(const Var& x) const { return out_->forward(tanh(hidden_->forward(x))); }

 private:
  std::shared_ptr<Linear> hidden_;
  std::shared_ptr<Linear> out_;
};

int main() {
  const Var inputs(Tensor::from_vector({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1}));
  const std::vector<int32_t> labels = {0, 1, 1, 0};

  Rng rng(42);
  Mlp model(rng);
  Sgd optimizer({ParamGroup{"all", model.named_parameters()}}, SgdConfig{/*momentum=*/0.9});

  float loss_value = 0;
  for (int step = 0; step < 300; ++step) {
    optimizer.zero_grad();
    Var loss = cross_entropy(model.forward(inputs), labels);  // records the ops on the tape
    backward(loss);                                           // walks the tape in reverse
    optimizer.step(/*lr=*/0.1);
    loss_value = loss.item();
    if (step % 50 == 0) std::printf("step %3d  loss %.4f\n", step, loss_value);
  }

  NoGradGuard no_grad;  // evaluation records nothing
  const Tensor logits = model.forward(inputs).value();
  int correct = 0;
  for (int i = 0; i < 4; ++i) {
    const int predicted = logits.data()[2 * i + 1] > logits.data()[2 * i] ? 1 : 0;
    std::printf("%g xor %g -> %d\n", inputs.data()[2 * i], inputs.data()[2 * i + 1], predicted);
    correct += predicted == labels[i];
  }
  std::printf("final loss %.4f, %d/4 correct\n", loss_value, correct);
  if (correct != 4) {
    std::fprintf(stderr, "xor_mlp: XOR not learned\n");
    return 1;
  }
  std::printf("XOR solved\n");
  return 0;
}
