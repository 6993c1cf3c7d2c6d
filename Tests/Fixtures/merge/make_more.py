"""Runs mergekit-yaml on the YAML files named on the command line (from this folder, with mergekit 0.1.5 on PATH)
(--no-write-model-card: the card would look the paths up on the Hub) and keeps, of each merged model, the tensors of layer 1 and the final norm: merged-<name>/model.safetensors.

    python make_more.py model_stock model_stock_rows nuslerp nuslerp_columns multislerp sce karcher
"""
import os, subprocess, sys, tempfile
from safetensors.numpy import load_file, save_file

here = os.path.dirname(os.path.abspath(__file__))
for name in sys.argv[1:]:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["mergekit-yaml", "--no-write-model-card", f"{name}.yaml", out], cwd=here, check=True)
        tensors = load_file(os.path.join(out, "model.safetensors"))
    kept = {k: v for k, v in tensors.items() if k.startswith("model.layers.1.") or k == "model.norm.weight"}
    os.makedirs(os.path.join(here, f"merged-{name}"), exist_ok=True)
    save_file(kept, os.path.join(here, f"merged-{name}", "model.safetensors"),
              metadata={"source": f"mergekit-yaml {name}.yaml (mergekit 0.1.5), layer 1 and model.norm.weight"})
    print(name, len(kept), "tensors")
