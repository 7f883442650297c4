# Reference values for tests/optim: 10 steps of torch.optim on two small parameters.
# Run with /usr/bin/python3 (PyTorch 1.13); the hex floats it prints are pasted into
# adam_test.cpp and sgd_test.cpp. The gradients match reference_grad() in test_params.h.
import torch
w0 = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.25, -0.75]])
b0 = torch.tensor([0.1, -0.2, 0.3])
def grad(t, n, off):  # exactly representable in float
    return torch.tensor([(((t * 7 + (i + off) * 3) % 11) - 5) * 0.125 for i in range(n)])
def run(make):
    w = torch.nn.Parameter(w0.clone()); b = torch.nn.Parameter(b0.clone())
    opt = make(w, b)
    for t in range(10):
        w.grad = grad(t, 6, 0).reshape(2, 3); b.grad = grad(t, 3, 6)
        opt.step()
    return [x.hex() for x in w.detach().flatten().tolist()], [x.hex() for x in b.detach().tolist()]
print("adamw", run(lambda w, b: torch.optim.AdamW([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}], lr=1e-2)))
print("adam", run(lambda w, b: torch.optim.Adam([w, b], lr=1e-2, weight_decay=0.05)))
print("sgd", run(lambda w, b: torch.optim.SGD([w, b], lr=1e-2, momentum=0.9, weight_decay=0.05)))
