"""Float64 numpy forward of a tiny HF model folder (llama, llama3 RoPE scaling, mistral window, qwen3, olmo2, phi3
with partial rotary and LongRoPE, and qwen2_moe with per-expert tensors), written from the papers' and
transformers' definitions, independent of Vane: it reads config.json and model.safetensors and writes, for the
token ids given, every hook point Vane adds (q, k, v before RoPE, rot_q, rot_k after it, the attention pattern
[H, T, T], the MLP activation entering down_proj; for qwen2_moe the router logits [T, E] and each expert's output
before its routing weight [T, E, d], zero where the expert is not among the token's top k) and the logits.

    python3 hook_reference.py MODEL_DIR IDS(comma-separated) OUT.safetensors [CALLS]

CALLS (comma-separated sizes summing to the number of ids) says how the ids reach the model when they arrive in
several forward calls with a cache, as in generation; it matters only for LongRoPE, whose table transformers picks
per call from the call's last position (modeling_rope_utils.longrope_frequency_update): a row takes the long
factors when its call reaches past original_max_position_embeddings. Cached keys keep the table of the call that
made them, so one pass with a per-row table computes what the calls would.

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


def row_tables(cfg, hd, T, calls):
    """RoPE inverse frequencies per row [T, rot/2] and the scale of the rotated dims (LongRoPE's attention factor)."""
    rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type")) not in ("longrope", "su"):
        return np.tile(inv_freq(cfg, rotary_dims(cfg, hd)), (T, 1)), 1.0
    rot = rotary_dims(cfg, hd)
    theta = rope.get("rope_theta", cfg.get("rope_theta", 10000.0))
    original = rope.get("original_max_position_embeddings", cfg.get("original_max_position_embeddings"))
    factor = rope.get("factor") or cfg["max_position_embeddings"] / original
    scale = rope.get("attention_factor") or (math.sqrt(1 + math.log(factor) / math.log(original)) if factor > 1 else 1.0)
    base = 1.0 / theta ** (np.arange(0, rot, 2) / rot)
    rows, end = [], 0
    for n in calls or [T]:
        end += n
        ext = np.array(rope["long_factor"] if end > original else rope["short_factor"], dtype=np.float64)
        rows += [base / ext] * n
    return np.array(rows), scale


def rotary_dims(cfg, hd):
    rope = cfg.get("rope_parameters") or {}
    return int(hd * rope.get("partial_rotary_factor", cfg.get("partial_rotary_factor", 1.0)))


def rope(x, w, scale=1.0):
    """x [T, heads, hd]; w [T, rot/2] per row; pairs (i, i + rot/2) of the first rot dims (HF layout); the rotated
    dims times scale (cos and sin scaled, as transformers' attention_scaling)."""
    T, rot = x.shape[0], 2 * w.shape[1]
    ang = np.arange(T)[:, None] * w
    cos, sin = np.cos(ang)[:, None, :] * scale, np.sin(ang)[:, None, :] * scale
    half = rot // 2
    a, b, rest = x[..., :half], x[..., half:rot], x[..., rot:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos, rest], axis=-1)


def forward(folder, ids, calls=None):
    cfg = json.load(open(f"{folder}/config.json"))
    W = read_safetensors(f"{folder}/model.safetensors")
    kind = cfg["model_type"]
    d, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or d // H
    eps = cfg["rms_norm_eps"]
    window = cfg.get("sliding_window") if kind in ("mistral", "phi3") else None
    T = len(ids)
    w, rope_scale = row_tables(cfg, hd, T, calls)
    x = W["model.embed_tokens.weight"][ids]
    out = {}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = x if kind == "olmo2" else rmsnorm(x, W[p + "input_layernorm.weight"], eps)
        if kind == "phi3":
            q, k, v = np.split(h @ W[p + "self_attn.qkv_proj.weight"].T, [H * hd, (H + KV) * hd], axis=-1)
        else:
            q, k, v = (h @ W[p + f"self_attn.{n}_proj.weight"].T + W.get(p + f"self_attn.{n}_proj.bias", 0) for n in "qkv")
        out[f"q.{l}"], out[f"k.{l}"], out[f"v.{l}"] = q.reshape(T, H, hd), k.reshape(T, KV, hd), v.reshape(T, KV, hd)
        if kind == "olmo2":
            q, k = rmsnorm(q, W[p + "self_attn.q_norm.weight"], eps), rmsnorm(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k, v = q.reshape(T, H, hd), k.reshape(T, KV, hd), v.reshape(T, KV, hd)
        if kind == "qwen3":
            q, k = rmsnorm(q, W[p + "self_attn.q_norm.weight"], eps), rmsnorm(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k = rope(q, w, rope_scale), rope(k, w, rope_scale)
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
        if kind == "phi3":
            g, u = np.split(h @ W[p + "mlp.gate_up_proj.weight"].T, 2, axis=-1)
        else:
            g, u = h @ W[p + "mlp.gate_proj.weight"].T, h @ W[p + "mlp.up_proj.weight"].T
        post = g / (1 + np.exp(-g)) * u
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
    calls = [int(n) for n in sys.argv[4].split(",")] if len(sys.argv) > 4 else None
    assert calls is None or sum(calls) == len(ids), "CALLS must sum to the number of ids"
    write_safetensors(path, forward(folder, ids, calls))
