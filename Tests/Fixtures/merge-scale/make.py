"""mergekit's merges at the size of a real model's tensors, on inputs with many equal magnitudes.

Run once (from anywhere) with mergekit 0.1.5 and torch installed:  python make.py
Writes, next to this file:
  expected.safetensors  for each case and tensor, `<case>.<tensor>`: the merged values at every 97th position;
                        for the methods built on whole-tensor norms and dot products also `<case>.<tensor>.float64`,
                        the same merge run by mergekit in float64 (its float32 reductions round differently from
                        an exact sum: by up to ~1e-5 on these inputs), rounded to float32
  expected.json         the cases (method and parameters, exactly as handed to mergekit), the tensors, and for the
                        selecting methods the SHA-256 of the positions each model's task vector keeps
  random.json           statistics of mergekit's random drops (DARE, DELLA), which come from torch's RNG

The inputs are generated here and again by the Swift test from the same integer formula (`value` below): values
on a grid of 2^-12 and task vectors on a grid of 2^-10, so every subtraction is exact and each tensor holds tens of
thousands of entries of each magnitude — the thresholds of TIES, breadcrumbs and SCE fall inside runs of ties.
"""
import hashlib, json, os, sys
import numpy as np
import torch
import mergekit
from importlib.metadata import version
from safetensors.numpy import save_file
from mergekit import merge_methods
from mergekit.merge_methods.base import TensorGroup
from mergekit.sparsify import RescaleNorm, bernoulli, della_magprune, magnitude, magnitude_outliers
from mergekit.merge_methods.sce import sce_mask

HERE = os.path.dirname(os.path.abspath(__file__))
TENSORS = {"up": [1536, 576], "square": [576, 576], "norm": [576]}
MODELS = ["base", "a", "b", "c"]
STRIDE = 97
# Methods whose result goes through norms or dot products over a whole tensor.
REDUCING = {"slerp", "nuslerp", "multislerp", "model_stock", "karcher"}


def hashed(n, salt):
    """(i · 2654435761 + salt) mod 2³², shifted right by 8: the generator's only source of variety."""
    i = np.arange(n, dtype=np.uint64)
    return ((i * np.uint64(2654435761) + np.uint64(salt)) & np.uint64(0xFFFFFFFF)) >> np.uint64(8)


def value(tensor_index, model_index, n):
    """base: (h mod 4001 − 2000)·2⁻¹²; model m: base + (h_m mod 61 − 30)·2⁻¹⁰."""
    base = (hashed(n, 1000 * tensor_index + 1).astype(np.int64) % 4001 - 2000).astype(np.float64) * 2.0**-12
    if model_index == 0:
        return base.astype(np.float32)
    q = (hashed(n, 1000 * tensor_index + 1 + 7 * model_index).astype(np.int64) % 61 - 30).astype(np.float64)
    return (base + q * 2.0**-10).astype(np.float32)


CASES = {
    "linear": ("linear", None, ["a", "b", "c"], {"weight": {"a": 0.5, "b": 0.3, "c": 0.2}}),
    "task_arithmetic": ("task_arithmetic", "base", ["a", "b"], {"weight": {"a": 1.0, "b": -0.5}, "lambda": 0.8}),
    "ties": ("ties", "base", ["a", "b"], {"weight": {"a": 1.0, "b": 0.6}, "density": {"a": 0.5, "b": 0.3}, "normalize": True}),
    "ties3": ("ties", "base", ["a", "b", "c"], {"weight": {"a": 1.0, "b": 0.6, "c": 0.3},
                                               "density": {"a": 0.5, "b": 0.3, "c": 0.7}}),
    "breadcrumbs": ("breadcrumbs", "base", ["a", "b"], {"weight": {"a": 1.0, "b": 0.6}, "density": {"a": 0.5, "b": 0.3},
                                                      "gamma": {"a": 0.05, "b": 0.01}}),
    "breadcrumbs_ties": ("breadcrumbs_ties", "base", ["a", "b"], {"weight": {"a": 1.0, "b": 0.6}, "density": {"a": 0.6, "b": 0.3},
                                                                "gamma": {"a": 0.1, "b": 0.02}, "rescale": True}),
    "slerp": ("slerp", "base", ["a"], {"t": 0.35}),
    "model_stock": ("model_stock", "base", ["a", "b", "c"], {}),
    "nuslerp": ("nuslerp", "base", ["a", "b"], {"weight": {"a": 0.7, "b": 0.3}}),
    "multislerp": ("multislerp", "base", ["a", "b", "c"], {"weight": {"a": 0.5, "b": 0.3, "c": 0.2}}),
    "sce": ("sce", "base", ["a", "b", "c"], {"select_topk": 0.4}),
    "sce_few": ("sce", "base", ["a", "b", "c"], {"select_topk": 0.01}),
    "karcher": ("karcher", None, ["a", "b", "c"], {}),
}


def digest(positions):
    return hashlib.sha256(np.sort(positions).astype("<i4").tobytes()).hexdigest()


def kept_digests(method, ids, params, xs):
    """SHA-256 of the positions each model's sparsified task vector keeps (nonzero after mergekit's own sparsify)."""
    out = {}
    if method in ("ties", "breadcrumbs", "breadcrumbs_ties"):
        for m in ids:
            delta = xs[m] - xs["base"]
            if method == "ties":
                kept = magnitude(delta, params["density"][m])
            else:
                kept = magnitude_outliers(delta, params["density"][m], gamma=params["gamma"][m])
            out[m] = digest(torch.nonzero(kept.reshape(-1)).reshape(-1).numpy())
    elif method == "sce":
        tvs = torch.stack([xs[m] - xs["base"] for m in ids])
        mask = sce_mask(tvs, params["select_topk"], torch.float32)
        out["selected"] = digest(torch.nonzero(mask.reshape(-1)).reshape(-1).numpy())
    return out


def main():
    torch.set_num_threads(1)
    samples, cases = {}, {}
    for case, (method, base, ids, params) in CASES.items():
        cases[case] = {"method": method, "base": base, "models": ids, "parameters": params, "kept": {}}
        for t, (tname, shape) in enumerate(TENSORS.items()):
            n = int(np.prod(shape))
            xs = {m: torch.from_numpy(value(t, j, n).reshape(shape)) for j, m in enumerate(MODELS)}
            inputs = ([base] if base else []) + ids
            for dtype, suffix in [(torch.float32, "")] + ([(torch.float64, ".float64")] if method in REDUCING else []):
                group = TensorGroup.from_tensors([xs[m].to(dtype) for m in inputs], ids=inputs,
                                                 base_index=0 if base else None)
                (out,) = merge_methods.get(method)((group,), parameters=params, dtype=dtype)
                samples[f"{case}.{tname}{suffix}"] = out.reshape(-1)[::STRIDE].numpy().astype(np.float32).copy()
            cases[case]["kept"][tname] = kept_digests(method, ids, params, xs)
    save_file(samples, os.path.join(HERE, "expected.safetensors"))
    meta = {"mergekit": version("mergekit"), "torch": torch.__version__, "stride": STRIDE,
            "tensors": TENSORS, "models": MODELS, "cases": cases}
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)

    # Random drops: the kept share by magnitude rank within a row (10 bins), and the L1 norm after / before.
    shape, seeds = [256, 1024], 8
    n = shape[0] * shape[1]
    delta = torch.from_numpy(value(0, 1, n) - value(0, 0, n)).reshape(shape)
    # Distinct magnitudes within a row so that ranks do not depend on how ties are ordered.
    delta = delta + torch.arange(n, dtype=torch.float32).reshape(shape) * 2.0**-24
    ranks = torch.argsort(torch.argsort(delta.abs(), dim=1), dim=1)
    bins = (ranks * 10) // shape[1]
    stats = {"shape": shape, "seeds": seeds, "delta": "value(0, 1) − value(0, 0) + i·2⁻²⁴", "methods": {}}
    for name, density, epsilon in (("dare", 0.3, None), ("della", 0.5, 0.15)):
        kept_by_bin = torch.zeros(10, dtype=torch.float64)
        ratios = []
        for seed in range(seeds):
            torch.manual_seed(seed)
            if epsilon is None:
                out = bernoulli(delta, density, rescale_norm=RescaleNorm.l1)
            else:
                out = della_magprune(delta, density, epsilon, rescale_norm=RescaleNorm.l1)
            for b in range(10):
                kept_by_bin[b] += (out[bins == b] != 0).double().sum()
            ratios.append((out.abs().double().sum() / delta.abs().double().sum()).item())
        per_bin = (kept_by_bin / (seeds * torch.bincount(bins.reshape(-1), minlength=10).double())).tolist()
        stats["methods"][name] = {"density": density, "epsilon": epsilon, "kept_by_rank_decile": per_bin,
                                  "l1_ratio": ratios}
    with open(os.path.join(HERE, "random.json"), "w") as f:
        json.dump(stats, f, indent=1)


if __name__ == "__main__":
    main()
