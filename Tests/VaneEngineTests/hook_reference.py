"""Float64 numpy forward of a tiny HF model folder (llama, llama3 RoPE scaling, mistral window, qwen3, olmo2, and
qwen2_moe with per-expert tensors), written from the papers' and transformers' definitions, independent of Vane: it
reads config.json and model.safetensors and writes, for the token ids given, every hook point Vane adds (q, k, v
before RoPE, rot_q, rot_k after it, the attention pattern [H, T, T], the MLP activation entering down_proj; for
qwen2_moe the router logits [T, E] and each expert's output before its routing weight [T, E, d], zero where the
expert is not among the token's top k) and the logits.

    python3 hook_reference.py MODEL_DIR IDS(comma-separated) OUT.safetensors

The logits are also written so that the test can first check this forward against transformers' reference.
"""
import json
import math
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).astype(np.float64)
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def inv_freq(cfg, hd):
    rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    theta = rope.get("rope_theta", cfg.get("rope_theta", 10000.0))
    w = 1.0 / theta ** (np.arange(0, hd, 2) / hd)
    if rope.get("rope_type", rope.get("type")) == "llama3":
        factor, lo, hi = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
        L = rope["original_max_position_embeddings"]
        wavelen = 2 * math.pi / w
        smooth = (L / wavelen - lo) / (hi - lo)
        scaled = np.where(wavelen > L / lo, w / factor, w)
        medium = (wavelen >= L / hi) & (wavelen <= L / lo)
        w = np.where(medium, (1 - smooth) * w / factor + smooth * w, scaled)
    return w


def rope(x, w):
    """x [T, heads, hd], pairs (i, i + hd/2) (HF layout)."""
    T = x.shape[0]
    ang = np.arange(T)[:, None] * w[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def forward(folder, ids):
    cfg = json.load(open(f"{folder}/config.json"))
    W = read_safetensors(f"{folder}/model.safetensors")
    kind = cfg["model_type"]
    d, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or d // H
    eps = cfg["rms_norm_eps"]
    window = cfg.get("sliding_window") if kind == "mistral" else None
    w = inv_freq(cfg, hd)
    T = len(ids)
    x = W["model.embed_tokens.weight"][ids]
    out = {}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = x if kind == "olmo2" else rmsnorm(x, W[p + "input_layernorm.weight"], eps)
        q, k, v = (h @ W[p + f"self_attn.{n}_proj.weight"].T + W.get(p + f"self_attn.{n}_proj.bias", 0) for n in "qkv")
        out[f"q.{l}"], out[f"k.{l}"], out[f"v.{l}"] = q.reshape(T, H, hd), k.reshape(T, KV, hd), v.reshape(T, KV, hd)
        if kind == "olmo2":
            q, k = rmsnorm(q, W[p + "self_attn.q_norm.weight"], eps), rmsnorm(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k, v = q.reshape(T, H, hd), k.reshape(T, KV, hd), v.reshape(T, KV, hd)
        if kind == "qwen3":
            q, k = rmsnorm(q, W[p + "self_attn.q_norm.weight"], eps), rmsnorm(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k = rope(q, w), rope(k, w)
        out[f"rot_q.{l}"], out[f"rot_k.{l}"] = q, k
        pattern = np.zeros((H, T, T))
        z = np.zeros((T, H, hd))
        for head in range(H):
            g = head // (H // KV)
            s = q[:, head] @ k[:, g].T / math.sqrt(hd)
            i, j = np.arange(T)[:, None], np.arange(T)[None, :]
            masked = (j > i) | ((i - j >= window) if window else False)
            s = np.where(masked, -np.inf, s)
            a = np.exp(s - s.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            pattern[head] = a
            z[:, head] = a @ v[:, g]
        out[f"pattern.{l}"] = pattern
        attn = z.reshape(T, H * hd) @ W[p + "self_attn.o_proj.weight"].T
        if kind == "olmo2":
            attn = rmsnorm(attn, W[p + "post_attention_layernorm.weight"], eps)
        x = x + attn
        h = x if kind == "olmo2" else rmsnorm(x, W[p + "post_attention_layernorm.weight"], eps)
        if kind == "qwen2_moe":
            x = x + moe(cfg, W, p, h, l, out)
            continue
        g = h @ W[p + "mlp.gate_proj.weight"].T
        post = g / (1 + np.exp(-g)) * (h @ W[p + "mlp.up_proj.weight"].T)
        out[f"mlp_post.{l}"] = post
        m = post @ W[p + "mlp.down_proj.weight"].T
        if kind == "olmo2":
            m = rmsnorm(m, W[p + "post_feedforward_layernorm.weight"], eps)
        x = x + m
    x = rmsnorm(x, W["model.norm.weight"], eps)
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    out["logits"] = x @ head.T
    return out


def swiglu(h, gate, up, down):
    g = h @ gate.T
    return (g / (1 + np.exp(-g)) * (h @ up.T)) @ down.T


def moe(cfg, W, p, h, l, out):
    """Qwen2-MoE's sparse block: softmax router, top k (renormalised when norm_topk_prob), SwiGLU experts, and the
    shared expert scaled by sigmoid(h · shared_expert_gate)."""
    T, d = h.shape
    E, k = cfg["num_experts"], cfg["num_experts_per_tok"]
    r = h @ W[p + "mlp.gate.weight"].T
    prob = np.exp(r - r.max(-1, keepdims=True))
    prob /= prob.sum(-1, keepdims=True)
    y = np.zeros((T, E, d))
    m = np.zeros((T, d))
    for t in range(T):
        top = np.argsort(-prob[t], kind="stable")[:k]
        weights = prob[t, top] / (prob[t, top].sum() if cfg.get("norm_topk_prob") else 1)
        for e, w in zip(top, weights):
            y[t, e] = swiglu(h[t], *(W[p + f"mlp.experts.{e}.{n}_proj.weight"] for n in ("gate", "up", "down")))
            m[t] += w * y[t, e]
    shared = swiglu(h, *(W[p + f"mlp.shared_expert.{n}_proj.weight"] for n in ("gate", "up", "down")))
    m += shared / (1 + np.exp(-(h @ W[p + "mlp.shared_expert_gate.weight"].T)))
    out[f"router_logits.{l}"], out[f"expert_out.{l}"] = r, y
    return m


if __name__ == "__main__":
    folder, ids, path = sys.argv[1], [int(i) for i in sys.argv[2].split(",")], sys.argv[3]
    write_safetensors(path, forward(folder, ids))
