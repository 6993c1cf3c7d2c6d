"""Reference for Qwen2.5-Coder-0.5B-Instruct (GGUF, `vane fetch qwen2.5-coder-0.5b`): a float64 forward pass over
the weights as gguf-py dequantizes them, written without Vane.

    python make_reference.py MODEL.gguf OUT_DIR      (needs gguf==0.19.0, numpy, tokenizers, safetensors)

Token ids come from HF tokenizers' BPE built from the GGUF's own vocabulary and merges with Qwen2's pre-tokenizer
(its split regex, then byte-level), special tokens parsed — what transformers' GGUF converter builds.
Writes reference.safetensors (p{i}.last_logits [V] float32: the logits at the prompt's last position) and
reference.json (per prompt: text, ids, top-5 [id, logit] at the last position, 8 greedy tokens).
"""
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

PROMPTS = [
    ("plain", "def fibonacci(n):"),
    ("chat", "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"),
]
GREEDY = 8


QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
               r"\s+(?!\S)|\s+")


def tokenizer(fields):
    from tokenizers import Regex, Tokenizer, AddedToken, models, normalizers, pre_tokenizers

    def strings(key):
        field = fields[key]
        return [bytes(field.parts[i]).decode("utf-8") for i in field.data]

    tokens, merges = strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges")
    types = [int(fields["tokenizer.ggml.token_type"].parts[i][0]) for i in fields["tokenizer.ggml.token_type"].data]
    tk = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[tuple(m.split(" ", 1)) for m in merges]))
    tk.normalizer = normalizers.NFC()
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    # GGUF token types: 3 control, 4 user-defined — the added tokens matched whole before BPE.
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty in (3, 4)])
    return tk


def main(path, out_dir):
    reader = GGUFReader(path)
    f = {k: v for k, v in reader.fields.items()}

    def scalar(key):
        return f[key].contents()

    n_layer = int(scalar("qwen2.block_count"))
    n_head = int(scalar("qwen2.attention.head_count"))
    n_kv = int(scalar("qwen2.attention.head_count_kv"))
    d = int(scalar("qwen2.embedding_length"))
    eps = float(scalar("qwen2.attention.layer_norm_rms_epsilon"))
    theta = float(scalar("qwen2.rope.freq_base"))
    hd = d // n_head
    tok = tokenizer(f)
    # numpy shape = reversed ggml ne: weights are [out, in], as in HF.
    w = {t.name: dequantize(t.data, t.tensor_type).reshape([int(x) for x in reversed(t.shape)]).astype(np.float32)
         for t in reader.tensors}

    def rms(x, g):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g.astype(np.float64)

    def lin(x, name, bias=None):
        y = x @ w[name].astype(np.float64).T
        if bias is not None and bias in w:
            y = y + w[bias].astype(np.float64)
        return y

    def rope(x, T):  # x [T, H, hd]; NeoX pairing (i, i + hd/2), as Qwen2 and GGUF qwen2 do
        inv = theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
        ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
        cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        a, b = x[..., : hd // 2], x[..., hd // 2:]
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)

    def forward(ids):
        T = len(ids)
        h = w["token_embd.weight"][ids].astype(np.float64)
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for L in range(n_layer):
            p = f"blk.{L}."
            x = rms(h, w[p + "attn_norm.weight"])
            q = rope(lin(x, p + "attn_q.weight", p + "attn_q.bias").reshape(T, n_head, hd), T)
            k = rope(lin(x, p + "attn_k.weight", p + "attn_k.bias").reshape(T, n_kv, hd), T)
            v = lin(x, p + "attn_v.weight", p + "attn_v.bias").reshape(T, n_kv, hd)
            g = n_head // n_kv
            z = np.empty((T, n_head, hd))
            for hh in range(n_head):
                s = q[:, hh] @ k[:, hh // g].T / np.sqrt(hd) + mask
                s = np.exp(s - s.max(axis=-1, keepdims=True))
                z[:, hh] = (s / s.sum(axis=-1, keepdims=True)) @ v[:, hh // g]
            h = h + lin(z.reshape(T, d), p + "attn_output.weight")
            x = rms(h, w[p + "ffn_norm.weight"])
            gate, up = lin(x, p + "ffn_gate.weight"), lin(x, p + "ffn_up.weight")
            h = h + lin(gate / (1 + np.exp(-gate)) * up, p + "ffn_down.weight")
        x = rms(h[-1:], w["output_norm.weight"])
        return lin(x, "output.weight" if "output.weight" in w else "token_embd.weight")[0]

    tensors, meta = {}, []
    for i, (kind, text) in enumerate(PROMPTS):
        ids = tok.encode(text, add_special_tokens=False).ids
        logits = forward(ids)
        tensors[f"p{i}.last_logits"] = logits.astype(np.float32)
        top = np.argsort(-logits)[:5]
        greedy, seq = [], list(ids)
        nxt = int(np.argmax(logits))
        for _ in range(GREEDY):
            greedy.append(nxt)
            seq.append(nxt)
            if len(greedy) < GREEDY:
                nxt = int(np.argmax(forward(seq)))
        meta.append({"kind": kind, "text": text, "ids": ids, "top5": [[int(t), float(logits[t])] for t in top],
                     "greedy": greedy})
        print(kind, ids, meta[-1]["top5"][:2], greedy, flush=True)
    from safetensors.numpy import save_file
    import os
    save_file(tensors, os.path.join(out_dir, "reference.safetensors"))
    with open(os.path.join(out_dir, "reference.json"), "w") as fh:
        json.dump(meta, fh, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
