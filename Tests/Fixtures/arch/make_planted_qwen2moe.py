"""Writes tiny-qwen2moe-planted/: tiny-qwen2moe with one expert whose routing follows a marked token by construction.

A random unit direction u (seed 7) is added to the embeddings: +8u to the token "Ġthen", -2u to every other token,
so the residual stream's component along u says whether the current token is " then". Layer 1's router row for
expert 2 is replaced by 3·u / ffn_norm, so that expert's router logit is 3·(x·u)/rms(x): large and positive at
" then", large and negative elsewhere. Every other router row (all layers) has u projected out of ffn_norm ⊙ row,
so no other expert reads u directly (a positive scale of a token's logits leaves its top-k alone). Expert 2 of layer 1 is then routed exactly at the " then" tokens, which
`vane recipe rice --tokens then` must rank first. Everything else is copied from tiny-qwen2moe.

Run from this folder: python3 make_planted_qwen2moe.py (numpy only).
"""
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from f32_safetensors import read, write  # noqa: E402

SRC, DST = "tiny-qwen2moe", "tiny-qwen2moe-planted"
LAYER, EXPERT, TOKEN = 1, 2, "Ġthen"


os.makedirs(DST, exist_ok=True)
for name in os.listdir(SRC):
    if name not in ("model.safetensors", "reference.safetensors", "reference.json", "llamacpp.f32.gguf"):
        shutil.copy(os.path.join(SRC, name), os.path.join(DST, name))
t = read(os.path.join(SRC, "model.safetensors"))
vocab = json.load(open(os.path.join(SRC, "tokenizer.json")))["model"]["vocab"]
u = np.random.default_rng(7).standard_normal(t["model.embed_tokens.weight"].shape[1])
u /= np.linalg.norm(u)
emb = t["model.embed_tokens.weight"]
emb -= 2 * u
emb[vocab[TOKEN]] += 10 * u
layers = sum(1 for k in t if k.endswith(".mlp.gate.weight"))
for layer in range(layers):
    norm = t[f"model.layers.{layer}.post_attention_layernorm.weight"]
    router = t[f"model.layers.{layer}.mlp.gate.weight"]
    # Every other router row stops reading u: its logit is (x/rms)·(norm ⊙ row), so u leaves norm ⊙ row.
    effective = router * norm
    router[:] = (effective - np.outer(effective @ u, u)) / norm
    if layer == LAYER:
        router[EXPERT] = 3 * u / norm
write(os.path.join(DST, "model.safetensors"), t)
with open(os.path.join(DST, "PLANTED.json"), "w") as f:
    json.dump({"layer": LAYER, "expert": EXPERT, "token": TOKEN, "token_id": vocab[TOKEN], "source": SRC}, f, indent=1)
print("wrote", DST, "planted expert", EXPERT, "at layer", LAYER, "for", TOKEN)
