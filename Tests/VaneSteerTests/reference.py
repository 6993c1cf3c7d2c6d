#!/usr/bin/env python3
"""Independent references for VaneSteerTests (numpy, scikit-learn, gguf-py). Usage:

    reference.py directions IN.json OUT.json   IN: {"rows": [[...]], "labels": [...], "pairs": [...]}
        OUT: {method: unit direction, sign-aligned so that mean(pos) - mean(neg) projects positive} for mean-diff,
        pca-diff, pca-center, pca-uncentered (pairs with label 1 / 0) and probe (sklearn LogisticRegression, C=1,
        on activations centred by the mean of the labelled examples); plus "auroc" and "cohens_d" of each
        direction's projections (sklearn roc_auc_score; pooled-sd Cohen's d).
    reference.py gguf FILE.gguf OUT.json       every metadata field and tensor as gguf-py's GGUFReader reads them.
    reference.py rotate IN.json OUT.json       IN: {"rows": [[...]], "direction": [...], "radians": θ}
        OUT: {"rows": each row turned by θ toward the direction in the plane they span, by the rotation matrix
        R = I + sin θ (e1 e2ᵀ − e2 e1ᵀ) + (cos θ − 1)(e1 e1ᵀ + e2 e2ᵀ), e1 = the unit direction, e2 = the row's unit
        part orthogonal to it}.
"""
import json
import sys

import numpy as np


def directions(inp, out):
    data = json.load(open(inp))
    x = np.array(data["rows"], dtype=np.float64)
    labels = np.array(data["labels"])
    pairs = np.array(data["pairs"])
    pos, neg = x[labels == 1], x[labels == 0]
    gap = pos.mean(0) - neg.mean(0)
    ids = sorted(set(pairs[pairs >= 0].tolist()))
    hp = np.array([x[(pairs == p) & (labels == 1)][0] for p in ids])
    hn = np.array([x[(pairs == p) & (labels == 0)][0] for p in ids])
    deltas = hp - hn
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    result = {}
    result["mean-diff"] = gap
    result["pca-diff"] = PCA(n_components=1, svd_solver="full").fit(deltas).components_[0]
    c = (hp + hn) / 2
    result["pca-center"] = PCA(n_components=1, svd_solver="full").fit(np.vstack([hp - c, hn - c])).components_[0]
    result["pca-uncentered"] = np.linalg.svd(deltas, full_matrices=False)[2][0]
    lab = labels[(labels == 0) | (labels == 1)]
    xl = x[(labels == 0) | (labels == 1)]
    lr = LogisticRegression(C=1.0, tol=1e-12, max_iter=100000).fit(xl - xl.mean(0), lab)
    result["probe"] = lr.coef_[0]
    out_json = {}
    for k, v in result.items():
        v = v / np.linalg.norm(v)
        if v @ gap < 0:
            v = -v
        ppos, pneg = pos @ v, neg @ v
        pooled = np.sqrt(((len(ppos) - 1) * ppos.var(ddof=1) + (len(pneg) - 1) * pneg.var(ddof=1)) / (len(ppos) + len(pneg) - 2))
        auroc = roc_auc_score(np.r_[np.ones(len(ppos)), np.zeros(len(pneg))], np.r_[ppos, pneg])
        out_json[k] = {"direction": v.tolist(), "auroc": float(auroc), "cohens_d": float((ppos.mean() - pneg.mean()) / pooled)}
    json.dump(out_json, open(out, "w"))


def gguf_dump(path, out):
    from gguf import GGUFReader
    r = GGUFReader(path)
    fields = {}
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue
        v = f.contents()
        fields[name] = v.tolist() if hasattr(v, "tolist") else v
    tensors = {t.name: {"type": t.tensor_type.name, "shape": [int(n) for n in t.shape], "data": np.asarray(t.data, dtype=np.float64).ravel().tolist()}
               for t in r.tensors}
    json.dump({"fields": fields, "tensors": tensors}, open(out, "w"))


def rotate(inp, out):
    data = json.load(open(inp))
    e1 = np.array(data["direction"], dtype=np.float64)
    e1 /= np.linalg.norm(e1)
    theta = data["radians"]
    rows = []
    for h in np.array(data["rows"], dtype=np.float64):
        w = h - (h @ e1) * e1
        e2 = w / np.linalg.norm(w)
        r = (np.eye(len(h)) + np.sin(theta) * (np.outer(e1, e2) - np.outer(e2, e1))
             + (np.cos(theta) - 1) * (np.outer(e1, e1) + np.outer(e2, e2)))
        rows.append((r @ h).tolist())
    json.dump({"rows": rows}, open(out, "w"))


if __name__ == "__main__":
    {"directions": directions, "gguf": gguf_dump, "rotate": rotate}[sys.argv[1]](sys.argv[2], sys.argv[3])
