"""Writes ft_a/ and ft_b/: tiny-qwen3moe-fused (../arch/, transformers 5's fused expert layout, which mergekit
0.1.5's qwen3_moe architecture file names) plus sparse random deltas (seeds 1 and 2: 10% of each tensor's values,
N(0, 0.02)), every tensor including the fused experts. Then the YAML files here are run by mergekit-yaml
(`mergekit-yaml --no-write-model-card NAME.yaml merged-NAME`), which writes merged-NAME/; only its config.json and
model.safetensors are kept.

Run from this folder: python3 make_merge_moe.py, then the mergekit-yaml commands (mergekit 0.1.5, torch 2.15).
"""
import json
import os
import shutil
import struct

import numpy as np

BASE = "../arch/tiny-qwen3moe-fused"


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).copy()
    return out


def write(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        blob = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


base = read(f"{BASE}/model.safetensors")
for name, seed in (("ft_a", 1), ("ft_b", 2)):
    rng = np.random.default_rng(seed)
    os.makedirs(name, exist_ok=True)
    for f in ("config.json", "tokenizer.json"):
        shutil.copy(f"{BASE}/{f}", f"{name}/{f}")
    out = {}
    for k in sorted(base):
        t = base[k]
        mask = rng.random(t.shape) < 0.1
        out[k] = (t + mask * rng.normal(0, 0.02, t.shape)).astype(np.float32)
    write(f"{name}/model.safetensors", out)
print("wrote ft_a, ft_b")
