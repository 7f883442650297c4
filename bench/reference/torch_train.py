#!/usr/bin/python3
"""The PyTorch side of the GPT benchmark (bench/bench_train.cpp is the tapelm side).

Same rows (tiny, small), same model (pre-LN GPT: learned positions, LayerNorm, GELU-tanh
MLP of width 4C, causal attention, tied LM head, no dropout, float32), same batches' shape,
same AdamW (weight decay 0.1 on rank>=2 non-embedding weights, lr 3e-4), clip 1.0, and the
same protocol: W warm-up then S timed steps, median ms/step. Generation: batch 1, a 4-token
prompt, K new tokens greedily under inference_mode, either with a simple per-layer KV cache
(--gen kv) or recomputing the whole sequence every step (--gen recompute).

The last line is `RESULT key=value ...` for scripts/bench.sh. Run with /usr/bin/python3
(Debian's torch 1.13); see docs/performance.md for the BLAS it should be given.
"""
import argparse
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROWS = {
    # name: (n_layer, n_head, d_model, ctx, vocab, batch)
    "tiny": (4, 4, 128, 64, 4096, 16),
    "small": (6, 6, 384, 256, 8192, 8),
}


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


class Attention(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x, cache=None):
        B, T, C = x.shape
        H, D = self.n_head, C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, H, D).transpose(1, 2)
        k = k.view(B, T, H, D).transpose(1, 2)
        v = v.view(B, T, H, D).transpose(1, 2)
        past = 0
        if cache is not None:
            if "k" in cache:
                past = cache["k"].shape[2]
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))
        if T > 1:  # a single new token may attend to every cached position
            S = k.shape[2]
            mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=past)
            att = att.masked_fill(~mask, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_head)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.fc_out = nn.Linear(4 * d_model, d_model)

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln1(x), cache)
        return x + self.fc_out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, n_layer, n_head, d_model, ctx, vocab):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, d_model)
        self.pos_emb = nn.Embedding(ctx, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d_model)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids, caches=None):
        past = caches[0]["k"].shape[2] if caches and "k" in caches[0] else 0
        pos = torch.arange(past, past + ids.shape[1])
        x = self.tok_emb(ids) + self.pos_emb(pos)
        for i, block in enumerate(self.blocks):
            x = block(x, caches[i] if caches is not None else None)
        return F.linear(self.ln_f(x), self.tok_emb.weight)  # tied LM head


def make_model(row):
    n_layer, n_head, d_model, ctx, vocab, batch = ROWS[row]
    torch.manual_seed(1234)
    return GPT(n_layer, n_head, d_model, ctx, vocab), batch, ctx, vocab


def train_flops_per_token(model):
    # PaLM appendix B, as in bench_train.cpp: 6·N + 12·L·T·C with N every parameter but the
    # learned position table (the tied embedding counts once, as the LM-head product).
    ctx, C = model.pos_emb.weight.shape
    n = sum(p.numel() for p in model.parameters()) - ctx * C
    return 6.0 * n + 12.0 * len(model.blocks) * ctx * C


def gemm_peak_flops():
    n = 1536
    g = torch.Generator().manual_seed(7)
    a, b = torch.rand(n, n, generator=g) - 0.5, torch.rand(n, n, generator=g) - 0.5
    best = math.inf
    for rep in range(6):
        start = time.perf_counter()
        torch.mm(a, b)
        t = time.perf_counter() - start
        if rep > 0:
            best = min(best, t)
    return 2.0 * n ** 3 / best


def run_train(args):
    model, B, T, V = make_model(args.model)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "emb" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=3e-4, foreach=args.foreach)
    params = list(model.parameters())
    g = torch.Generator().manual_seed(42)
    batches = [(torch.randint(V, (B, T), generator=g), torch.randint(V, (B, T), generator=g))
               for _ in range(args.warmup + args.steps)]
    times = []
    loss_value = 0.0
    for s, (x, y) in enumerate(batches):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        # bf16: autocast runs the matrix products in bfloat16, the rest (and the weights) fp32.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            logits = model(x)
        loss = F.cross_entropy(logits.float().view(-1, V), y.view(-1))
        loss_value = loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        t = time.perf_counter() - start
        if s >= args.warmup:
            times.append(t)
        print(f"step {s}: {t * 1e3:.1f} ms loss {loss_value:.4f}{' (warm-up)' if s < args.warmup else ''}",
              flush=True)
    rss = peak_rss_mib()
    step_s = statistics.median(times)
    tokens = B * T
    flops = train_flops_per_token(model) * tokens
    peak = gemm_peak_flops()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"RESULT side=torch mode=train model={args.model} threads={args.threads} precision={args.precision} "
          f"params={n_params} "
          f"tokens_per_step={tokens} ms_per_step={step_s * 1e3:.2f} tokens_per_s={tokens / step_s:.1f} "
          f"peak_rss_mib={rss:.1f} flops_per_step={flops:.4g} gemm_peak_gflops={peak / 1e9:.1f} "
          f"achieved_gflops={flops / step_s / 1e9:.2f} mfu={flops / step_s / peak:.4f} "
          f"final_loss={loss_value:.4f}")


def generate_greedy(model, prompt, new_tokens, method):
    ids = prompt
    out = []
    with torch.inference_mode():
        if method == "kv":
            caches = [{} for _ in model.blocks]
            logits = model(ids, caches)
            for _ in range(new_tokens):
                nxt = logits[:, -1].argmax(dim=-1, keepdim=True)
                out.append(nxt)
                if len(out) < new_tokens:
                    logits = model(nxt, caches)
        else:
            for _ in range(new_tokens):
                nxt = model(ids)[:, -1].argmax(dim=-1, keepdim=True)
                out.append(nxt)
                ids = torch.cat([ids, nxt], dim=1)
    return torch.cat(out, dim=1)


def run_generate(args):
    model, _, ctx, _ = make_model(args.model)
    model.eval()
    prompt = torch.tensor([[1, 2, 3, 4]])
    if prompt.shape[1] + args.new_tokens > ctx:
        sys.exit(f"torch_train.py: prompt + --new-tokens exceeds ctx_len {ctx}")
    times = []
    for r in range(args.warmup + args.steps):
        start = time.perf_counter()
        generate_greedy(model, prompt, args.new_tokens, args.gen)
        t = time.perf_counter() - start
        if r >= args.warmup:
            times.append(t)
        print(f"generation {r}: {t * 1e3:.1f} ms, {args.new_tokens / t:.1f} tokens/s"
              f"{' (warm-up)' if r < args.warmup else ''}", flush=True)
    t = statistics.median(times)
    print(f"RESULT side=torch mode=generate model={args.model} threads={args.threads} gen={args.gen} "
          f"new_tokens={args.new_tokens} ms_per_generation={t * 1e3:.2f} tokens_per_s={args.new_tokens / t:.1f} "
          f"peak_rss_mib={peak_rss_mib():.1f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=sorted(ROWS), default="tiny")
    p.add_argument("--mode", choices=["train", "generate"], default="train")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--new-tokens", type=int, default=200)
    p.add_argument("--gen", choices=["kv", "recompute"], default="kv")
    p.add_argument("--foreach", type=int, choices=[0, 1], default=1, help="AdamW foreach implementation")
    p.add_argument("--mkldnn", type=int, choices=[0, 1], default=1, help="torch.backends.mkldnn.enabled")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: torch.autocast('cpu', dtype=torch.bfloat16) around the forward pass")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = bool(args.mkldnn)
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} mkldnn={args.mkldnn} "
          f"foreach={args.foreach} OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"LD_LIBRARY_PATH={os.environ.get('LD_LIBRARY_PATH', '(unset)')}", flush=True)
    if args.mode == "train":
        run_train(args)
    else:
        run_generate(args)


if __name__ == "__main__":
    main()
