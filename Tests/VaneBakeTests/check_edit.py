"""Independent check of a `vane edit heads` GGUF with gguf-py and numpy.

usage: check_edit.py SOURCE.gguf EDITED.gguf VECTOR.gguf HEADS OUT.json   (HEADS: "L.h,L.h")

Reads both models with gguf-py: the same tensors in the same order; every tensor but the edited layers'
attn_output.weight byte-identical; each edited one F32 and equal (max |Δ| ≤ 1e-5) to numpy's
W[:, h·hd:(h+1)·hd] ← (I − v vᵀ) W[:, …] with v = −d̂_L, on gguf-py's dequantization of the source;
and the vane.edit.* keys present. Writes {"ok", "max_delta", "problems", "keys"} as JSON.
"""
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

src, edited, vector, heads, out = sys.argv[1:6]
a, b, v = GGUFReader(src), GGUFReader(edited), GGUFReader(vector)
problems, max_delta = [], 0.0
n_head = int(a.fields["llama.attention.head_count"].parts[-1][0]) if "llama.attention.head_count" in a.fields \
    else int(a.fields["qwen2.attention.head_count"].parts[-1][0])
chosen = {}
for item in heads.split(","):
    layer, head = item.split(".")
    chosen.setdefault(int(layer), []).append(int(head))
directions = {t.name: np.array(t.data, dtype=np.float64) for t in v.tensors}
ta = {t.name: t for t in a.tensors}
if [t.name for t in a.tensors] != [t.name for t in b.tensors]:
    problems.append("tensor lists differ")
for t in b.tensors:
    s = ta[t.name]
    layer = int(t.name.split(".")[1]) if t.name.startswith("blk.") else -1
    if t.name.endswith("attn_output.weight") and layer in chosen:
        if t.tensor_type.name != "F32":
            problems.append(f"{t.name} is {t.tensor_type.name}, expected F32")
            continue
        w = dequantize(s.data, s.tensor_type).astype(np.float64).reshape(-1, n_head * (s.shape[0] // n_head))
        hd = w.shape[1] // n_head
        d = directions[f"direction.{layer}"]
        u = -d / np.linalg.norm(d)
        for h in chosen[layer]:
            cols = w[:, h * hd:(h + 1) * hd]
            w[:, h * hd:(h + 1) * hd] = cols - np.outer(u, u @ cols)
        got = np.array(t.data, dtype=np.float64).reshape(w.shape)
        delta = float(np.abs(got - w).max())
        max_delta = max(max_delta, delta)
        if delta > 1e-5:
            problems.append(f"{t.name}: max |Δ| {delta}")
    elif s.data.tobytes() != t.data.tobytes() or s.tensor_type != t.tensor_type:
        problems.append(f"{t.name} differs from the source")
keys = {k: bytes(f.parts[-1]).decode() for k, f in b.fields.items() if k.startswith("vane.edit.")}
if "vane.edit.recipe" not in keys:
    problems.append("no vane.edit.recipe")
json.dump({"ok": not problems, "max_delta": max_delta, "problems": problems[:10], "keys": keys}, open(out, "w"))
