"""Writes tiny-qwen3moe-fused/: tiny-qwen3moe with its experts in transformers 5's fused layout.

transformers 5 holds a layer's experts as two 3-D parameters (src/transformers/models/qwen3_moe/modeling_qwen3_moe.py,
Qwen3MoeExperts): gate_up_proj [E, 2·F, d] and down_proj [E, d, F]. Its checkpoint conversion
(src/transformers/conversion_mapping.py, "qwen2_moe", copied for "qwen3_moe", "olmoe"; "mixtral" likewise from
block_sparse_moe.experts.*.w1/w3/w2) builds them from the per-expert tensors with MergeModulelist(dim=0) (stack the
experts) then Concatenate(dim=1) over [gate_proj, up_proj]: each expert's gate rows first, then its up rows; the
forward splits them back with .chunk(2, dim=-1), gate first. This script does exactly that re-stacking of the
per-expert tensors transformers saved; every value is copied, none computed. Everything else is copied unchanged.

Run from this folder: python3 make_fused_qwen3moe.py (numpy only).
"""
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from f32_safetensors import read, write  # noqa: E402

SRC, DST = "tiny-qwen3moe", "tiny-qwen3moe-fused"


os.makedirs(DST, exist_ok=True)
for name in os.listdir(SRC):
    if name not in ("model.safetensors", "reference.safetensors", "reference.json", "llamacpp.f32.gguf"):
        shutil.copy(os.path.join(SRC, name), os.path.join(DST, name))
t = read(os.path.join(SRC, "model.safetensors"))
config = json.load(open(os.path.join(SRC, "config.json")))
E = config.get("num_experts") or config["num_local_experts"]
out = {}
for name, value in t.items():
    if ".mlp.experts." not in name:
        out[name] = value
layers = config["num_hidden_layers"]
for layer in range(layers):
    p = f"model.layers.{layer}.mlp.experts"
    gate = np.stack([t.pop(f"{p}.{e}.gate_proj.weight") for e in range(E)])  # [E, F, d]
    up = np.stack([t.pop(f"{p}.{e}.up_proj.weight") for e in range(E)])      # [E, F, d]
    out[f"{p}.gate_up_proj"] = np.concatenate([gate, up], axis=1)            # [E, 2F, d]
    out[f"{p}.down_proj"] = np.stack([t.pop(f"{p}.{e}.down_proj.weight") for e in range(E)])  # [E, d, F]
assert not any(".mlp.experts." in k for k in t), "an expert tensor was left over"
write(os.path.join(DST, "model.safetensors"), out, metadata={"format": "pt"})
print("wrote", DST, sorted(k for k in out if "layers.0.mlp" in k))
