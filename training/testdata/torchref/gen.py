#!/usr/bin/python3
"""Generate the PyTorch reference fixtures used by mlecs Go tests.

Run from the repository root with Debian's interpreter (it has torch 1.13):

    /usr/bin/python3 training/testdata/torchref/gen.py

Every fixture is computed in float64 from inputs that are first rounded to
float32, then stored as F32 safetensors, so a Go float32 implementation sees
exactly the inputs PyTorch used and is compared against float64 results.
The safetensors files are written by hand (8-byte little-endian header length,
JSON header, raw little-endian bytes) because Debian has no `safetensors`
package. The output is deterministic: fixed seeds, sorted names.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.dirname(os.path.abspath(__file__))
torch.set_default_dtype(torch.float64)


# ---------------------------------------------------------------- writing

def write_safetensors(path, entries, metadata=None, header_order=None):
    """entries: list of (name, dtype, shape, raw bytes) in data-section order.

    header_order, if given, lists the names in the order the JSON header
    should use (the data section keeps the order of entries).
    """
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    info, off = {}, 0
    for name, dtype, shape, data in entries:
        info[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(data)]}
        off += len(data)
    for name in header_order or [e[0] for e in entries]:
        header[name] = info[name]
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)  # align the data section like the reference writer
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, _, _, data in entries:
            f.write(data)
    os.replace(tmp, path)


def f32_bytes(t):
    return np.ascontiguousarray(t.detach().to(torch.float32).numpy()).astype("<f4").tobytes()


def half_bytes(t, dtype):
    """Raw little-endian bytes of t converted by torch to float16/bfloat16."""
    bits = t.detach().to(torch.float32).to(dtype).contiguous().view(torch.int16)
    return np.ascontiguousarray(bits.numpy()).astype("<i2").tobytes()


def write_f32(name, tensors, metadata=None):
    """tensors: dict name -> torch tensor; written as F32 sorted by name."""
    entries = []
    for k in sorted(tensors):
        t = torch.as_tensor(tensors[k])
        entries.append((k, "F32", tuple(t.shape), f32_bytes(t)))
    path = os.path.join(OUT, name)
    write_safetensors(path, entries, metadata)
    print(f"{name}: {len(entries)} tensors, {os.path.getsize(path)} bytes")


def r32(t):
    """Round to float32 and back, so stored inputs equal the computed ones."""
    return t.to(torch.float32).to(torch.float64)


def scalar(x):
    return torch.tensor([float(x)])


# ---------------------------------------------------------------- ops

def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def layernorm(x, w, b, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # biased, as torch and llm.c
    return (x - mean) / torch.sqrt(var + eps) * w + b


def causal_attention(qkv, nh):
    """qkv [B,T,3C] laid out as [q | k | v], each C split into nh heads of C/nh.

    Returns out [B,T,C] and the attention probabilities [B,nh,T,T].
    """
    B, T, C3 = qkv.shape
    C = C3 // 3
    hs = C // nh
    q, k, v = qkv.split(C, dim=2)
    q = q.view(B, T, nh, hs).transpose(1, 2)
    k = k.view(B, T, nh, hs).transpose(1, 2)
    v = v.view(B, T, nh, hs).transpose(1, 2)
    pre = q @ k.transpose(-2, -1) / math.sqrt(hs)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    pre = pre.masked_fill(~mask, float("-inf"))
    att = torch.softmax(pre, dim=-1)
    out = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
    return out, att


def self_check():
    """Our explicit ops agree with torch's own, so the fixtures are not
    merely consistent with themselves."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 7, generator=g) * 3
    assert torch.allclose(gelu_tanh(x), F.gelu(x, approximate="tanh"), atol=1e-12)
    w, b = torch.randn(7, generator=g), torch.randn(7, generator=g)
    assert torch.allclose(layernorm(x, w, b), F.layer_norm(x, (7,), w, b, 1e-5), atol=1e-12)
    qkv = torch.randn(2, 4, 12, generator=g)
    out, _ = causal_attention(qkv, 2)
    q, k, v = qkv.split(4, dim=2)
    ref = []
    for h in range(2):
        s = slice(2 * h, 2 * h + 2)
        a = q[:, :, s] @ k[:, :, s].transpose(1, 2) / math.sqrt(2)
        a = a + torch.triu(torch.full((4, 4), float("-inf")), diagonal=1)
        ref.append(torch.softmax(a, -1) @ v[:, :, s])
    assert torch.allclose(out, torch.cat(ref, dim=2), atol=1e-12)


# ---------------------------------------------------------------- gpt2

GPT2 = dict(vocab_size=64, n_ctx=16, n_layer=2, n_head=2, n_embd=32)


def gpt2_params(g):
    V, T, L, C = GPT2["vocab_size"], GPT2["n_ctx"], GPT2["n_layer"], GPT2["n_embd"]

    def normal(shape, std, mean=0.0):
        return r32(mean + std * torch.randn(shape, generator=g))

    p = {"wte.weight": normal((V, C), 0.02), "wpe.weight": normal((T, C), 0.02)}
    for l in range(L):
        h = f"h.{l}."
        p[h + "ln_1.weight"] = normal(C, 0.1, 1.0)
        p[h + "ln_1.bias"] = normal(C, 0.05)
        p[h + "attn.c_attn.weight"] = normal((C, 3 * C), 0.02)
        p[h + "attn.c_attn.bias"] = normal(3 * C, 0.01)
        p[h + "attn.c_proj.weight"] = normal((C, C), 0.02)
        p[h + "attn.c_proj.bias"] = normal(C, 0.01)
        p[h + "ln_2.weight"] = normal(C, 0.1, 1.0)
        p[h + "ln_2.bias"] = normal(C, 0.05)
        p[h + "mlp.c_fc.weight"] = normal((C, 4 * C), 0.02)
        p[h + "mlp.c_fc.bias"] = normal(4 * C, 0.01)
        p[h + "mlp.c_proj.weight"] = normal((4 * C, C), 0.02)
        p[h + "mlp.c_proj.bias"] = normal(C, 0.01)
    p["ln_f.weight"] = normal(C, 0.1, 1.0)
    p["ln_f.bias"] = normal(C, 0.05)
    return p


def gpt2_forward(p, idx, targets):
    """Pre-LN GPT-2 with Conv1D weights [in, out] and lm_head tied to wte."""
    B, T = idx.shape
    V, L, NH = GPT2["vocab_size"], GPT2["n_layer"], GPT2["n_head"]
    x = p["wte.weight"][idx] + p["wpe.weight"][:T]
    for l in range(L):
        h = f"h.{l}."
        a = layernorm(x, p[h + "ln_1.weight"], p[h + "ln_1.bias"])
        qkv = a @ p[h + "attn.c_attn.weight"] + p[h + "attn.c_attn.bias"]
        y, _ = causal_attention(qkv, NH)
        x = x + y @ p[h + "attn.c_proj.weight"] + p[h + "attn.c_proj.bias"]
        m = layernorm(x, p[h + "ln_2.weight"], p[h + "ln_2.bias"])
        m = gelu_tanh(m @ p[h + "mlp.c_fc.weight"] + p[h + "mlp.c_fc.bias"])
        x = x + m @ p[h + "mlp.c_proj.weight"] + p[h + "mlp.c_proj.bias"]
    x = layernorm(x, p["ln_f.weight"], p["ln_f.bias"])
    logits = x @ p["wte.weight"].T
    loss = F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)
    return logits, loss


def gen_gpt2():
    g = torch.Generator().manual_seed(1001)
    params = gpt2_params(g)
    for t in params.values():
        t.requires_grad_(True)
    B, T, V = 2, 8, GPT2["vocab_size"]
    idx = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)
    targets[0, 3] = -1
    targets[1, 7] = -1
    logits, loss = gpt2_forward(params, idx, targets)
    loss.backward()
    out = {k: v.detach().clone() for k, v in params.items()}
    out["input_ids"] = idx.to(torch.float64)
    out["targets"] = targets.to(torch.float64)
    out["logits"] = logits.detach()
    out["loss"] = loss.detach().reshape(1)
    for k, v in params.items():
        out["grad." + k] = v.grad.detach().clone()
    opt = torch.optim.AdamW(list(params.values()), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    opt.step()
    for k, v in params.items():
        out["step1." + k] = v.detach().clone()
    meta = dict(GPT2, layer_norm_epsilon="1e-5", activation="gelu_tanh", tie_word_embeddings="true",
                lr="1e-3", beta1="0.9", beta2="0.999", eps="1e-8", weight_decay="0.1")
    write_f32("gpt2_tiny.safetensors", out, meta)


# ---------------------------------------------------------------- lora

def gen_lora():
    g = torch.Generator().manual_seed(1002)
    N, IN, OUT_, R, ALPHA = 4, 16, 8, 4, 8.0
    scale = ALPHA / R
    x = r32(torch.randn(N, IN, generator=g)).requires_grad_(True)
    W = r32(0.3 * torch.randn(OUT_, IN, generator=g)).requires_grad_(True)
    bias = r32(0.1 * torch.randn(OUT_, generator=g)).requires_grad_(True)
    A = r32(0.3 * torch.randn(R, IN, generator=g)).requires_grad_(True)
    Bm = r32(0.3 * torch.randn(OUT_, R, generator=g)).requires_grad_(True)
    dy = r32(torch.randn(N, OUT_, generator=g))
    y = x @ W.T + bias + scale * (x @ A.T) @ Bm.T
    (y * dy).sum().backward()
    out = {"x": x, "W": W, "bias": bias, "A": A, "B": Bm, "dy": dy, "scale": scalar(scale), "y": y,
           "grad.x": x.grad, "grad.A": A.grad, "grad.B": Bm.grad, "grad.W": W.grad, "grad.bias": bias.grad,
           "merged.W": W + scale * Bm @ A}
    write_f32("lora.safetensors", out, {"r": R, "alpha": ALPHA})


# ---------------------------------------------------------------- infonce

def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def gen_infonce():
    g = torch.Generator().manual_seed(1003)
    N, D, TAU = 6, 8, 0.1
    q0 = r32(torch.randn(N, D, generator=g))
    k0 = r32(torch.randn(N, D, generator=g))
    labels = torch.arange(N)
    out = {"q": q0, "k": k0, "tau": scalar(TAU)}
    for sym in (False, True):
        q, k = q0.clone().requires_grad_(True), k0.clone().requires_grad_(True)
        logits = unit(q) @ unit(k).T / TAU
        if sym:
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
            out["loss_sym"], out["grad_sym.q"], out["grad_sym.k"] = loss.reshape(1), None, None
        else:
            loss = F.cross_entropy(logits, labels)
            out["loss"], out["logits"] = loss.reshape(1), logits
        loss.backward()
        pre = "grad_sym." if sym else "grad."
        out[pre + "q"], out[pre + "k"] = q.grad, k.grad
    write_f32("infonce.safetensors", {k: v.detach() for k, v in out.items()})


# ---------------------------------------------------------------- gram

def gen_gram():
    g = torch.Generator().manual_seed(1004)
    N, M, D, TAU, EPS = 5, 2, 8, 0.2, 1e-6
    a = r32(torch.randn(N, D, generator=g)).requires_grad_(True)
    m = r32(torch.randn(N, M, D, generator=g)).requires_grad_(True)
    an, mn = unit(a), unit(m)
    # S[i, j] = rows {a_i, m_j1, m_j2}: [N, N, 1+M, D]
    S = torch.cat([an[:, None, None, :].expand(N, N, 1, D), mn[None, :, :, :].expand(N, N, M, D)], dim=2)
    G = S @ S.transpose(-2, -1) + EPS * torch.eye(1 + M)
    V = torch.sqrt(torch.linalg.det(G))
    logits = -V / TAU
    labels = torch.arange(N)
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    loss.backward()
    out = {"a": a, "m": m, "tau": scalar(TAU), "eps": scalar(EPS), "V": V, "logits": logits,
           "loss": loss.reshape(1), "grad.a": a.grad, "grad.m": m.grad}
    write_f32("gram.safetensors", {k: v.detach() for k, v in out.items()})


# ---------------------------------------------------------------- layers

def gen_layers():
    g = torch.Generator().manual_seed(1005)
    out = {}

    x = r32(0.5 + 2.0 * torch.randn(3, 10, generator=g)).requires_grad_(True)
    w = r32(1.0 + 0.3 * torch.randn(10, generator=g)).requires_grad_(True)
    b = r32(0.2 * torch.randn(10, generator=g)).requires_grad_(True)
    dy = r32(torch.randn(3, 10, generator=g))
    y = layernorm(x, w, b)
    (y * dy).sum().backward()
    mean = x.detach().mean(-1)
    rstd = 1.0 / torch.sqrt(((x.detach() - mean[:, None]) ** 2).mean(-1) + 1e-5)
    out.update({"layernorm.x": x, "layernorm.w": w, "layernorm.b": b, "layernorm.dy": dy, "layernorm.y": y,
                "layernorm.mean": mean, "layernorm.rstd": rstd, "layernorm.grad.x": x.grad,
                "layernorm.grad.w": w.grad, "layernorm.grad.b": b.grad})

    # Spread over the tails and the curved middle of GELU.
    x = r32(torch.linspace(-6.0, 6.0, 40).reshape(4, 10) + 0.05 * torch.randn(4, 10, generator=g))
    x.requires_grad_(True)
    dy = r32(torch.randn(4, 10, generator=g))
    y = gelu_tanh(x)
    (y * dy).sum().backward()
    out.update({"gelu.x": x, "gelu.dy": dy, "gelu.y": y, "gelu.grad.x": x.grad})

    qkv = r32(torch.randn(2, 5, 24, generator=g)).requires_grad_(True)
    dout = r32(torch.randn(2, 5, 8, generator=g))
    o, att = causal_attention(qkv, 2)
    (o * dout).sum().backward()
    out.update({"attn.qkv": qkv, "attn.dout": dout, "attn.out": o, "attn.att": att, "attn.grad.qkv": qkv.grad})
    write_f32("layers.safetensors", {k: v.detach() for k, v in out.items()},
              {"layernorm_eps": "1e-5", "attn_n_head": "2"})


# ---------------------------------------------------------------- dtypes

def gen_dtypes():
    """Mixed F32/F16/BF16 file for the reader: torch does the narrowing, the
    *.expected tensors hold torch's own widening back to float32."""
    vals = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 1e5, 1e-5, 6e-8, -3e-7, 0.1, 1.0 / 3.0,
                         3.0e38, 1e-40, float("inf"), float("-inf"), float("nan")], dtype=torch.float32)
    f16 = vals.reshape(4, 4)
    bf16 = vals.flip(0).reshape(2, 8)
    entries = [
        ("f32", "F32", (16,), f32_bytes(vals)),
        ("bf16", "BF16", (2, 8), half_bytes(bf16, torch.bfloat16)),
        ("empty", "F16", (0, 3), b""),
        ("f16", "F16", (4, 4), half_bytes(f16, torch.float16)),
        ("scalar", "BF16", (), half_bytes(torch.tensor(-1.75), torch.bfloat16)),
        ("f16.expected", "F32", (4, 4), f32_bytes(f16.to(torch.float16).to(torch.float32))),
        ("bf16.expected", "F32", (2, 8), f32_bytes(bf16.to(torch.bfloat16).to(torch.float32))),
    ]
    # Header order differs from data order on purpose: readers must use the
    # offsets, not the key order.
    order = ["scalar", "f16.expected", "f16", "f32", "empty", "bf16.expected", "bf16"]
    path = os.path.join(OUT, "dtypes.safetensors")
    write_safetensors(path, entries, {"format": "pt"}, order)
    print(f"dtypes.safetensors: {len(entries)} tensors, {os.path.getsize(path)} bytes")


def main():
    print(f"torch {torch.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    self_check()
    gen_gpt2()
    gen_lora()
    gen_infonce()
    gen_gram()
    gen_layers()
    gen_dtypes()


if __name__ == "__main__":
    main()
