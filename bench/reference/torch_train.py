#!/usr/bin/python3
"""The PyTorch side of the training benchmark (bench/bench_train.cpp is the tapelm side).

Same rows, same models, float32, same batches' shapes (bench/train_rows.h):
  tiny, small  pre-LN GPT: learned positions, LayerNorm, GELU-tanh MLP of width 4C, causal
               attention, tied LM head, no dropout
  g2p          configs/finetune/g2p.yaml's pre-LN encoder-decoder (3 + 3 layers, width 192,
               ReLU FFN 768, sinusoidal positions, embeddings x sqrt(192), tied target
               embedding and LM head, dropout 0.1, label smoothing 0.1), 128 words of 10
               source and 10 target tokens
  spam         configs/finetune/spam.yaml's classifier: the GPT body (4 layers, width 128,
               ctx 256, vocab 4096, dropout 0.1), mean pooling, Linear(128, 2); 32 x 256 tokens
The g2p and spam models are written out here with tapelm's parameter layout, dropout sites
(embeddings and every sublayer's output, none inside attention or the FFN) and
initialisation, so parameter counts and initial losses agree. Same AdamW (weight decay 0.1 on
rank>=2 non-embedding weights, lr 3e-4), clip 1.0, and the same protocol: W warm-up then S
timed steps, median ms/step. Generation (tiny, small): batch 1, a 4-token
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
G2P = dict(n_layer=3, n_head=4, d_model=192, ffn=768, ctx=40, src_vocab=32, tgt_vocab=80, batch=128,
           src_len=10, tgt_len=10, dropout=0.1, label_smoothing=0.1)
SPAM = dict(n_layer=4, n_head=4, d_model=128, ctx=256, vocab=4096, batch=32, dropout=0.1, n_classes=2)
TRAIN_ROWS = sorted(ROWS) + ["g2p", "spam"]
INIT_STD = 0.02  # tapelm's nn/init.h


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


class Attention(nn.Module):
    def __init__(self, d_model, n_head, causal=True):
        super().__init__()
        self.n_head = n_head
        self.causal = causal
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
        if self.causal and T > 1:  # a single new token may attend to every cached position
            S = k.shape[2]
            mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=past)
            att = att.masked_fill(~mask, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


def dropout(p):
    # An Identity at p = 0: the dropout-free rows (tiny, small) draw no masks.
    return nn.Dropout(p) if p > 0 else nn.Identity()


class Block(nn.Module):
    def __init__(self, d_model, n_head, p_drop=0.0):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_head)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.fc_out = nn.Linear(4 * d_model, d_model)
        self.drop = dropout(p_drop)

    def forward(self, x, cache=None):
        x = x + self.drop(self.attn(self.ln1(x), cache))
        return x + self.drop(self.fc_out(F.gelu(self.fc(self.ln2(x)), approximate="tanh")))


class GPT(nn.Module):
    def __init__(self, n_layer, n_head, d_model, ctx, vocab, p_drop=0.0):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, d_model)
        self.pos_emb = nn.Embedding(ctx, d_model)
        self.drop = dropout(p_drop)
        self.blocks = nn.ModuleList(Block(d_model, n_head, p_drop) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d_model)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=INIT_STD)

    def hidden(self, ids, caches=None):
        past = caches[0]["k"].shape[2] if caches and "k" in caches[0] else 0
        pos = torch.arange(past, past + ids.shape[1])
        x = self.drop(self.tok_emb(ids) + self.pos_emb(pos))
        for i, block in enumerate(self.blocks):
            x = block(x, caches[i] if caches is not None else None)
        return self.ln_f(x)

    def forward(self, ids, caches=None):
        return F.linear(self.hidden(ids, caches), self.tok_emb.weight)  # tied LM head


class Classifier(nn.Module):
    """SequenceClassifier: the GPT body, mean pooling over the sequence, Linear(C, n_classes)."""

    def __init__(self, n_layer, n_head, d_model, ctx, vocab, n_classes, p_drop):
        super().__init__()
        self.body = GPT(n_layer, n_head, d_model, ctx, vocab, p_drop)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, ids):
        return self.head(self.body.hidden(ids).mean(dim=1))


class CrossAttention(nn.Module):
    """Queries from the decoder, keys and values from the encoder output (tapelm's q, kv, proj)."""

    def __init__(self, d_model, n_head):
        super().__init__()
        self.n_head = n_head
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x, memory):
        B, T, C = x.shape
        S = memory.shape[1]
        H, D = self.n_head, C // self.n_head
        q = self.q(x).view(B, T, H, D).transpose(1, 2)
        k, v = self.kv(memory).split(C, dim=2)
        k = k.view(B, S, H, D).transpose(1, 2)
        v = v.view(B, S, H, D).transpose(1, 2)
        att = F.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D)), dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(B, T, C))


class Seq2SeqLayer(nn.Module):
    """A pre-LN encoder layer (bidirectional self-attention, ReLU FFN) or decoder layer (causal
    self-attention, cross-attention, ReLU FFN); dropout on each sublayer's output."""

    def __init__(self, d_model, n_head, ffn, p_drop, decoder):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_head, causal=decoder)
        if decoder:
            self.ln_cross = nn.LayerNorm(d_model)
            self.cross_attn = CrossAttention(d_model, n_head)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, ffn)
        self.fc2 = nn.Linear(ffn, d_model)
        self.drop = dropout(p_drop)

    def forward(self, x, memory=None):
        x = x + self.drop(self.attn(self.ln1(x)))
        if memory is not None:
            x = x + self.drop(self.cross_attn(self.ln_cross(x), memory))
        return x + self.drop(self.fc2(F.relu(self.fc1(self.ln2(x)))))


class Stack(nn.Module):
    def __init__(self, n_layer, d_model, n_head, ffn, p_drop, decoder):
        super().__init__()
        self.blocks = nn.ModuleList(Seq2SeqLayer(d_model, n_head, ffn, p_drop, decoder) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, x, memory=None):
        for block in self.blocks:
            x = block(x, memory)
        return self.ln_f(x)


def sinusoidal_table(max_len, dim, base=10000.0):
    """PE[pos, 2i] = sin(pos / base^(2i/dim)), PE[pos, 2i+1] = cos(...), as tapelm's nn/positional.h."""
    j = torch.arange(dim, dtype=torch.float64)
    angle = torch.arange(max_len, dtype=torch.float64)[:, None] * base ** (-(j - j % 2) / dim)
    return torch.where(j % 2 == 0, torch.sin(angle), torch.cos(angle)).float()


class EncoderDecoder(nn.Module):
    """tapelm's EncoderDecoder, pre-LN, separate source and target embeddings, LM head tied to the
    target embedding."""

    def __init__(self, n_layer, n_head, d_model, ffn, ctx, src_vocab, tgt_vocab, p_drop):
        super().__init__()
        self.src_emb = nn.Embedding(src_vocab, d_model)
        self.tgt_emb = nn.Embedding(tgt_vocab, d_model)
        self.register_buffer("pe", sinusoidal_table(ctx, d_model))
        self.drop = dropout(p_drop)
        self.encoder = Stack(n_layer, d_model, n_head, ffn, p_drop, decoder=False)
        self.decoder = Stack(n_layer, d_model, n_head, ffn, p_drop, decoder=True)

    def embed(self, table, ids):
        C = table.weight.shape[1]
        return self.drop(table(ids) * math.sqrt(C) + self.pe[: ids.shape[1]])

    def forward(self, src, tgt):
        memory = self.encoder(self.embed(self.src_emb, src))
        return F.linear(self.decoder(self.embed(self.tgt_emb, tgt), memory), self.tgt_emb.weight)


def init_like_tapelm(model, n_layer):
    """tapelm's initialisation: weights and embeddings ~ N(0, 0.02²), the projections into the
    residual stream ~ N(0, (0.02 / sqrt(2·n_layer))²), biases 0, norms 1 and 0."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            residual = name.endswith(("proj", "fc_out", "fc2"))
            nn.init.normal_(m.weight, std=INIT_STD / math.sqrt(2.0 * n_layer) if residual else INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=INIT_STD)


def make_model(row):
    n_layer, n_head, d_model, ctx, vocab, batch = ROWS[row]
    torch.manual_seed(1234)
    return GPT(n_layer, n_head, d_model, ctx, vocab), batch, ctx, vocab


def train_flops_per_token(model):
    # PaLM appendix B, as in bench/train_rows.cpp: 6·N + 12·L·T·C with N every parameter but the
    # learned position table (the tied embedding counts once, as the LM-head product).
    ctx, C = model.pos_emb.weight.shape
    n = sum(p.numel() for p in model.parameters()) - ctx * C
    return 6.0 * n + 12.0 * len(model.blocks) * ctx * C


def count_parameters(model, pred):
    return sum(p.numel() for n, p in model.named_parameters() if pred(n))


def seq2seq_train_flops_per_step(model, B, S, T):
    # As bench/train_rows.cpp: per example 6·(N_enc·S + (N_dec − N_kv)·T + N_kv·S + V_tgt·C·T)
    # + 12·C·(L_enc·S² + L_dec·T² + L_dec·T·S).
    def is_kv(n):
        return ".cross_attn.kv." in n
    enc = count_parameters(model, lambda n: n.startswith("encoder."))
    kv = count_parameters(model, is_kv)
    dec = count_parameters(model, lambda n: n.startswith("decoder.") and not is_kv(n))
    V, C = model.tgt_emb.weight.shape
    L_enc, L_dec = len(model.encoder.blocks), len(model.decoder.blocks)
    params = 6.0 * (enc * S + dec * T + kv * S + V * C * T)
    attention = 12.0 * C * (L_enc * S * S + L_dec * T * T + L_dec * T * S)
    return B * (params + attention)


def classifier_train_flops_per_step(model, B, T):
    # As bench/train_rows.cpp: per example 6·N_body·T + 6·N_head + 12·L·T²·C, N_body without the
    # token and position tables (no LM head: the token table is only looked up).
    head = count_parameters(model, lambda n: n.startswith("head."))
    body = count_parameters(model, lambda n: n.startswith("body.") and not n.startswith(("body.tok_emb.",
                                                                                          "body.pos_emb.")))
    C = model.head.in_features
    return B * (6.0 * body * T + 6.0 * head + 12.0 * len(model.body.blocks) * T * T * C)


class TrainRow:
    """A model, its batches (drawn before timing), and how a batch becomes logits and targets."""

    def __init__(self, model, batches, logits_and_targets, tokens_per_step, flops_per_step, label_smoothing,
                 description):
        self.model = model
        self.batches = batches
        self.logits_and_targets = logits_and_targets
        self.tokens_per_step = tokens_per_step
        self.flops_per_step = flops_per_step
        self.label_smoothing = label_smoothing
        self.description = description


def make_train_row(name, n_steps):
    g = torch.Generator().manual_seed(42)
    torch.manual_seed(1234)
    if name in ROWS:
        model, B, T, V = make_model(name)
        batches = [(torch.randint(V, (B, T), generator=g), torch.randint(V, (B, T), generator=g))
                   for _ in range(n_steps)]
        return TrainRow(model, batches, lambda b: (model(b[0]), b[1]), B * T, train_flops_per_token(model) * B * T,
                        0.0, f"GPT, batch {B} x {T} tokens, dropout 0")
    if name == "g2p":
        c = G2P
        model = EncoderDecoder(c["n_layer"], c["n_head"], c["d_model"], c["ffn"], c["ctx"], c["src_vocab"],
                               c["tgt_vocab"], c["dropout"])
        init_like_tapelm(model, c["n_layer"])
        B, S, T = c["batch"], c["src_len"], c["tgt_len"]
        batches = [(torch.randint(c["src_vocab"], (B, S), generator=g),
                    torch.randint(c["tgt_vocab"], (B, T), generator=g),
                    torch.randint(c["tgt_vocab"], (B, T), generator=g)) for _ in range(n_steps)]
        return TrainRow(model, batches, lambda b: (model(b[0], b[1]), b[2]), B * (S + T),
                        seq2seq_train_flops_per_step(model, B, S, T), c["label_smoothing"],
                        f"encoder-decoder, batch {B} x ({S} source + {T} target) tokens, dropout {c['dropout']}, "
                        f"label smoothing {c['label_smoothing']}")
    c = SPAM
    model = Classifier(c["n_layer"], c["n_head"], c["d_model"], c["ctx"], c["vocab"], c["n_classes"], c["dropout"])
    init_like_tapelm(model, c["n_layer"])
    B, T = c["batch"], c["ctx"]
    batches = [(torch.randint(c["vocab"], (B, T), generator=g), torch.randint(c["n_classes"], (B,), generator=g))
               for _ in range(n_steps)]
    return TrainRow(model, batches, lambda b: (model(b[0]), b[1]), B * T,
                    classifier_train_flops_per_step(model, B, T), 0.0,
                    f"classifier (mean pooling), batch {B} x {T} tokens, dropout {c['dropout']}")


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
    row = make_train_row(args.model, args.warmup + args.steps)
    print(f"row {args.model}: {row.description}", flush=True)
    model = row.model
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "emb" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=3e-4, foreach=args.foreach)
    params = list(model.parameters())
    times = []
    first_loss = loss_value = 0.0
    for s, batch in enumerate(row.batches):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        # bf16: autocast runs the matrix products in bfloat16, the rest (and the weights) fp32.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            logits, targets = row.logits_and_targets(batch)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               label_smoothing=row.label_smoothing)
        loss_value = loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        t = time.perf_counter() - start
        if s >= args.warmup:
            times.append(t)
        if s == 0:
            first_loss = loss_value
        print(f"step {s}: {t * 1e3:.1f} ms loss {loss_value:.4f}{' (warm-up)' if s < args.warmup else ''}",
              flush=True)
    rss = peak_rss_mib()
    step_s = statistics.median(times)
    tokens = row.tokens_per_step
    flops = row.flops_per_step
    peak = gemm_peak_flops()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"RESULT side=torch mode=train model={args.model} threads={args.threads} precision={args.precision} "
          f"params={n_params} "
          f"tokens_per_step={tokens} ms_per_step={step_s * 1e3:.2f} tokens_per_s={tokens / step_s:.1f} "
          f"peak_rss_mib={rss:.1f} flops_per_step={flops:.4g} gemm_peak_gflops={peak / 1e9:.1f} "
          f"achieved_gflops={flops / step_s / 1e9:.2f} mfu={flops / step_s / peak:.4f} "
          f"first_loss={first_loss:.4f} final_loss={loss_value:.4f}")


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
    p.add_argument("--model", choices=TRAIN_ROWS, default="tiny", help="generate: tiny or small only")
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
    if args.mode == "generate" and args.model not in ROWS:
        p.error(f"--mode generate needs a GPT row ({' or '.join(sorted(ROWS))}), got {args.model}")
    if args.mode == "train":
        run_train(args)
    else:
        run_generate(args)


if __name__ == "__main__":
    main()
