"""Writes ft_a/ and ft_b/: tiny-qwen3moe-fused (../arch/, transformers 5's fused expert layout, which mergekit
0.1.5's qwen3_moe architecture file names) plus sparse random deltas (seeds 1 and 2: 10% of each tensor's values,
N(0, 0.02)), every tensor including the fused experts. Then the YAML files here are run by mergekit-yaml
(`mergekit-yaml --no-write-model-card NAME.yaml merged-NAME`), which writes merged-NAME/; only its config.json and
model.safetensors are kept.

Run from this folder: python3 make_merge_moe.py, then the mergekit-yaml commands (mergekit 0.1.5, torch 2.15).
"""
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from f32_safetensors import read, write  # noqa: E402

BASE = "../arch/tiny-qwen3moe-fused"


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
    write(f"{name}/model.safetensors", out, metadata={"format": "pt"})
print("wrote ft_a, ft_b")
