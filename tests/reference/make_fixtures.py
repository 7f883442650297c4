#!/usr/bin/python3
# Golden fixtures for tests/models/golden_test.cpp, computed with plain PyTorch.
#
# Run with Debian's PyTorch 1.13 (the pyenv python3 on PATH has no torch):
#     /usr/bin/python3 tests/reference/make_fixtures.py
# It rewrites tests/reference/fixtures/*.safetensors; the C++ test reads only those
# committed files (CI has no PyTorch).
#
# The three models are written here from their definitions (nothing of tapelm is imported)
# and named with tapelm's parameter names (docs/weights.md):
#   gpt         pre-LN, LayerNorm, GELU (tanh), learned positions, biases, tied head
#   gpt_rope    pre-LN, RMSNorm, SwiGLU, rotate-half RoPE, no biases, untied head
#   encdec      post-LN, ReLU, sinusoidal positions, embeddings scaled by sqrt(C),
#               separate source/target embeddings, head tied to the target embedding
# Their configurations must match the ones in golden_test.cpp.
#
# For each model <m> two files:
#   <m>.weights.safetensors   the parameters (load_parameters, strict)
#   <m>.expected.safetensors  the batch (ids, targets, padding masks as exact float32),
#                             "logits", "loss", "grad.<param>" for every parameter, and
#                             "adamw_losses": the loss before each of 10 AdamW steps on the
#                             batch, then after the last (11 values).
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

FIXTURE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
IGNORE = -100

# AdamW as the golden test runs it: constant lr, decay only on tapelm's default group.
LR = 1e-2
BETAS = (0.9, 0.95)
EPS = 1e-8
WEIGHT_DECAY = 0.1
ADAMW_STEPS = 10


# ---------------------------------------------------------------- safetensors, by hand

def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> array (stored as little-endian F32, data in name order)."""
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        raw = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


# ---------------------------------------------------------------- modules

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def make_norm(cfg):
    if cfg["norm"] == "rmsnorm":
        return RMSNorm(cfg["d_model"], cfg["norm_eps"])
    return nn.LayerNorm(cfg["d_model"], eps=cfg["norm_eps"])


def rope_tables(max_len, head_dim, base):
    """cos/sin of pos * base^(-2i/D), computed in double, rounded to float32: [max_len, D/2]."""
    half = head_dim // 2
    theta = base ** (-2.0 * np.arange(half, dtype=np.float64) / head_dim)
    angle = np.arange(max_len, dtype=np.float64)[:, None] * theta[None, :]
    return torch.from_numpy(np.cos(angle).astype(np.float32)), torch.from_numpy(np.sin(angle).astype(np.float32))


def apply_rope(x, cos, sin):
    """Rotate-half RoPE on [B, H, T, D]: element i pairs with i + D/2."""
    T = x.shape[2]
    c, s = cos[:T], sin[:T]
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


def sinusoidal_table(max_len, dim):
    """PE[pos, 2i] = sin(pos / 10000^(2i/dim)), PE[pos, 2i+1] = cos(...), in double."""
    j = np.arange(dim)
    freq = 10000.0 ** (-(j - j % 2).astype(np.float64) / dim)
    angle = np.arange(max_len, dtype=np.float64)[:, None] * freq[None, :]
    table = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
    return torch.from_numpy(table.astype(np.float32))


def attend(q, k, v, causal, key_padding):
    """q: [B, H, Tq, D], k/v: [B, H, Tk, D]; key_padding: bool [B, Tk] (True = real) or None."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    Tq, Tk = q.shape[2], k.shape[2]
    allowed = torch.ones(Tq, Tk, dtype=torch.bool)
    if causal:
        allowed = torch.tril(allowed)
    allowed = allowed[None, None]
    if key_padding is not None:
        allowed = allowed & key_padding[:, None, None, :]
    # Every query row of the fixtures keeps at least one key, so no row is all -inf.
    return scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v


class SelfAttention(nn.Module):
    def __init__(self, cfg, causal, rope):
        super().__init__()
        C = cfg["d_model"]
        self.n_head = cfg["n_head"]
        self.causal = causal
        self.rope = rope
        self.qkv = nn.Linear(C, 3 * C, bias=cfg["bias"])
        self.proj = nn.Linear(C, C, bias=cfg["bias"])

    def heads(self, x):
        B, T, C = x.shape
        return x.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)

    def forward(self, x, key_padding):
        B, T, C = x.shape
        q, k, v = (self.heads(t) for t in self.qkv(x).split(C, dim=2))
        if self.rope is not None:
            q = apply_rope(q, *self.rope)
            k = apply_rope(k, *self.rope)
        y = attend(q, k, v, self.causal, key_padding)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class CrossAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg["d_model"]
        self.n_head = cfg["n_head"]
        self.q = nn.Linear(C, C, bias=cfg["bias"])
        self.kv = nn.Linear(C, 2 * C, bias=cfg["bias"])
        self.proj = nn.Linear(C, C, bias=cfg["bias"])

    def heads(self, x):
        B, T, C = x.shape
        return x.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)

    def forward(self, x, memory, memory_padding):
        B, T, C = x.shape
        k, v = self.kv(memory).split(C, dim=2)
        y = attend(self.heads(self.q(x)), self.heads(k), self.heads(v), False, memory_padding)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, Fh, bias = cfg["d_model"], cfg["d_ff"], cfg["bias"]
        self.kind = cfg["ffn"]
        self.fc1 = nn.Linear(C, Fh, bias=bias)
        self.fc2 = nn.Linear(Fh, C, bias=bias)
        if self.kind == "swiglu":
            self.fc3 = nn.Linear(C, Fh, bias=bias)

    def forward(self, x):
        h = self.fc1(x)
        if self.kind == "relu":
            return self.fc2(F.relu(h))
        if self.kind == "gelu":
            return self.fc2(F.gelu(h, approximate="tanh"))
        return self.fc2(F.silu(h) * self.fc3(x))


class Block(nn.Module):
    """Self-attention, optional cross-attention, FFN; each x + f(norm(x)) (pre-LN) or norm(x + f(x))."""

    def __init__(self, cfg, causal, cross, rope=None):
        super().__init__()
        self.pre_norm = cfg["pre_norm"]
        self.ln1 = make_norm(cfg)
        self.attn = SelfAttention(cfg, causal, rope)
        if cross:
            self.ln_cross = make_norm(cfg)
            self.cross_attn = CrossAttention(cfg)
        self.ln2 = make_norm(cfg)
        self.ffn = FeedForward(cfg)

    def residual(self, x, norm, f):
        return x + f(norm(x)) if self.pre_norm else norm(x + f(x))

    def forward(self, x, padding, memory=None, memory_padding=None):
        h = self.residual(x, self.ln1, lambda t: self.attn(t, padding))
        if memory is not None:
            h = self.residual(h, self.ln_cross, lambda t: self.cross_attn(t, memory, memory_padding))
        return self.residual(h, self.ln2, self.ffn)


class PositionTable(nn.Module):
    def __init__(self, n, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n, dim))


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C = cfg["d_model"]
        self.tok_emb = nn.Embedding(cfg["vocab_size"], C)
        if cfg["positional"] == "learned":
            self.pos_emb = PositionTable(cfg["ctx_len"], C)
        rope = None
        if cfg["positional"] == "rotary":
            rope = rope_tables(cfg["ctx_len"], C // cfg["n_head"], cfg["rope_base"])
        self.blocks = nn.ModuleList(Block(cfg, causal=True, cross=False, rope=rope) for _ in range(cfg["n_layer"]))
        if cfg["pre_norm"]:
            self.ln_f = make_norm(cfg)
        if not cfg["tie_weights"]:
            self.lm_head = nn.Linear(C, cfg["vocab_size"], bias=False)

    def forward(self, ids, padding):
        T = ids.shape[1]
        x = self.tok_emb(ids)
        if self.cfg["positional"] == "learned":
            x = x + self.pos_emb.weight[:T]
        for block in self.blocks:
            x = block(x, padding)
        if self.cfg["pre_norm"]:
            x = self.ln_f(x)
        return self.lm_head(x) if not self.cfg["tie_weights"] else x @ self.tok_emb.weight.t()


class Stack(nn.Module):
    def __init__(self, cfg, n_layer, causal, cross):
        super().__init__()
        self.blocks = nn.ModuleList(Block(cfg, causal, cross) for _ in range(n_layer))
        if cfg["pre_norm"]:
            self.ln_f = make_norm(cfg)

    def forward(self, x, padding, memory=None, memory_padding=None):
        for block in self.blocks:
            x = block(x, padding, memory, memory_padding)
        return self.ln_f(x) if hasattr(self, "ln_f") else x


class EncoderDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C = cfg["d_model"]
        self.src_emb = nn.Embedding(cfg["src_vocab_size"], C)
        self.tgt_emb = nn.Embedding(cfg["tgt_vocab_size"], C)
        self.encoder = Stack(cfg, cfg["n_encoder_layer"], causal=False, cross=False)
        self.decoder = Stack(cfg, cfg["n_decoder_layer"], causal=True, cross=True)
        self.register_buffer("pe", sinusoidal_table(cfg["ctx_len"], C))

    def embed(self, table, ids):
        return table(ids) * math.sqrt(self.cfg["d_model"]) + self.pe[: ids.shape[1]]

    def forward(self, src, tgt, src_padding, tgt_padding):
        memory = self.encoder(self.embed(self.src_emb, src), src_padding)
        h = self.decoder(self.embed(self.tgt_emb, tgt), tgt_padding, memory, src_padding)
        return h @ self.tgt_emb.weight.t()


# ---------------------------------------------------------------- weights

def randomize(model, gen):
    """Weights far from the usual tiny init, so attention patterns, norm gains and biases are
    all non-trivial and a slip in any of them shows: matrices ~ N(0, 1/in), embeddings and
    position tables ~ N(0, 0.3²), biases ~ N(0, 0.1²), norm gains ~ 1 + N(0, 0.1²)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            z = torch.randn(p.shape, generator=gen)
            if "emb" in name:
                p.copy_(0.3 * z)
            elif p.dim() >= 2:
                p.copy_(z / math.sqrt(p.shape[1]))
            elif name.split(".")[-2].startswith("ln") and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * z)
            else:
                p.copy_(0.1 * z)


def adamw_for(model):
    """tapelm's weight_decay_groups: decay iff rank >= 2 and the name has no "emb"."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "emb" not in name else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=LR, betas=BETAS, eps=EPS)


def as_float(t):
    """A snapshot: a numpy view would follow later in-place updates (optimizer steps, zero_grad)."""
    return t.detach().to(torch.float32).numpy().copy()


def write_fixture(name, model, cfg, inputs, loss_fn):
    """inputs: tensors stored as "input.<key>" (float32, exact for these small integers)."""
    os.makedirs(FIXTURE_DIR, exist_ok=True)
    params = {n: as_float(p) for n, p in model.named_parameters()}
    write_safetensors(os.path.join(FIXTURE_DIR, name + ".weights.safetensors"), params,
                      {"config": json.dumps(cfg, sort_keys=True), "torch": torch.__version__})

    model.zero_grad()
    logits, loss = loss_fn()
    loss.backward()
    expected = {"input." + k: as_float(v) for k, v in inputs.items()}
    expected["logits"] = as_float(logits)
    expected["loss"] = as_float(loss).reshape(1)
    for n, p in model.named_parameters():
        expected["grad." + n] = as_float(p.grad)

    opt = adamw_for(model)
    losses = []
    for _ in range(ADAMW_STEPS):
        opt.zero_grad()
        _, loss = loss_fn()
        losses.append(loss.item())
        loss.backward()
        opt.step()
    with torch.no_grad():
        losses.append(loss_fn()[1].item())
    expected["adamw_losses"] = np.array(losses, dtype=np.float32)
    write_safetensors(os.path.join(FIXTURE_DIR, name + ".expected.safetensors"), expected,
                      {"torch": torch.__version__, "lr": LR, "betas": BETAS, "eps": EPS,
                       "weight_decay": WEIGHT_DECAY})
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, loss {expected['loss'][0]:.6f}, "
          f"after {ADAMW_STEPS} AdamW steps {losses[-1]:.6f}")


def gpt_batch(gen, vocab, B, T, padded_tail):
    """Next-token batch; row 1 has its last `padded_tail` positions padded (ignored targets),
    and one target of row 0 is ignored too."""
    seq = torch.randint(0, vocab, (B, T + 1), generator=gen)
    ids, targets = seq[:, :-1].clone(), seq[:, 1:].clone()
    padding = torch.ones(B, T, dtype=torch.bool)
    if padded_tail:
        padding[1, T - padded_tail:] = False
        ids[1, T - padded_tail:] = 0
        targets[1, T - padded_tail:] = IGNORE
    targets[0, 3] = IGNORE
    return ids, targets, padding


def make_gpt(name, cfg, seed, padded_tail):
    gen = torch.Generator().manual_seed(seed)
    model = GPT(cfg)
    randomize(model, gen)
    ids, targets, padding = gpt_batch(gen, cfg["vocab_size"], 2, 8, padded_tail)
    mask = padding if padded_tail else None

    def loss_fn():
        logits = model(ids, mask)
        return logits, F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), targets.reshape(-1),
                                       ignore_index=IGNORE)

    inputs = {"ids": ids, "targets": targets}
    if padded_tail:
        inputs["padding"] = padding
    write_fixture(name, model, cfg, inputs, loss_fn)


def make_encdec(cfg, seed):
    gen = torch.Generator().manual_seed(seed)
    model = EncoderDecoder(cfg)
    randomize(model, gen)
    B, S, T = 2, 7, 6
    src = torch.randint(0, cfg["src_vocab_size"], (B, S), generator=gen)
    tgt = torch.randint(0, cfg["tgt_vocab_size"], (B, T), generator=gen)
    targets = torch.randint(0, cfg["tgt_vocab_size"], (B, T), generator=gen)
    src_padding = torch.ones(B, S, dtype=torch.bool)
    src_padding[1, S - 2:] = False
    src[1, S - 2:] = 0
    tgt_padding = torch.ones(B, T, dtype=torch.bool)
    tgt_padding[1, T - 1:] = False
    tgt[1, T - 1:] = 0
    targets[1, T - 1:] = IGNORE
    targets[0, 2] = IGNORE

    def loss_fn():
        logits = model(src, tgt, src_padding, tgt_padding)
        return logits, F.cross_entropy(logits.reshape(-1, cfg["tgt_vocab_size"]), targets.reshape(-1),
                                       ignore_index=IGNORE)

    write_fixture("encdec", model, cfg,
                  {"src": src, "tgt": tgt, "targets": targets, "src_padding": src_padding,
                   "tgt_padding": tgt_padding}, loss_fn)


GPT_CONFIG = dict(vocab_size=61, ctx_len=16, n_layer=2, n_head=2, d_model=32, d_ff=64, ffn="gelu",
                  norm="layernorm", norm_eps=1e-5, pre_norm=True, bias=True, positional="learned",
                  tie_weights=True)
GPT_ROPE_CONFIG = dict(vocab_size=61, ctx_len=16, n_layer=2, n_head=2, d_model=32, d_ff=48, ffn="swiglu",
                       norm="rmsnorm", norm_eps=1e-5, pre_norm=True, bias=False, positional="rotary",
                       rope_base=10000.0, tie_weights=False)
ENCDEC_CONFIG = dict(src_vocab_size=23, tgt_vocab_size=19, ctx_len=16, n_encoder_layer=2, n_decoder_layer=2,
                     n_head=4, d_model=24, d_ff=48, ffn="relu", norm="layernorm", norm_eps=1e-5,
                     pre_norm=False, bias=True, positional="sinusoidal", scale_embeddings=True,
                     shared_embeddings=False, tie_weights=True)

if __name__ == "__main__":
    make_gpt("gpt", GPT_CONFIG, seed=1234, padded_tail=2)
    make_gpt("gpt_rope", GPT_ROPE_CONFIG, seed=5678, padded_tail=0)
    make_encdec(ENCDEC_CONFIG, seed=4321)
    total = sum(os.path.getsize(os.path.join(FIXTURE_DIR, f)) for f in os.listdir(FIXTURE_DIR))
    print(f"fixtures: {total} bytes in {FIXTURE_DIR}")
