"""numpy reference for low-rank task vectors (SparseTaskVectorTests).

    task_vector_reference.py A_DIR B_DIR RANK OUT.safetensors

Reads model.safetensors of two HF folders (F32), takes Δ = A − B per tensor in float64, and writes OUT with, under
each HF name N: `delta.N`, the rank-RANK truncation U_R S_R V_Rᵀ of np.linalg.svd(Δ) for every 2-D tensor [m, n]
with RANK·(m + n) < m·n, Δ itself for the others; `applied.N`, B + that. Metadata `energy`: a JSON object of
Σ_{i<R} σᵢ² / Σ σᵢ² per truncated tensor.
"""
import json
import struct
import sys

import numpy as np


def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    out = {}
    for name, info in json.loads(raw[8:8 + n]).items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        begin, end = (8 + n + o for o in info["data_offsets"])
        out[name] = np.frombuffer(raw[begin:end], dtype="<f4").astype(np.float64).reshape(info["shape"])
    return out


def write(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, x in tensors.items():
        blob = np.ascontiguousarray(x, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(x.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))


a_dir, b_dir, rank, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
a, b = read(a_dir + "/model.safetensors"), read(b_dir + "/model.safetensors")
tensors, energy = {}, {}
for name in sorted(a):
    d = a[name] - b[name]
    if d.ndim == 2 and rank * sum(d.shape) < d.size:
        u, s, vt = np.linalg.svd(d, full_matrices=False)
        d = (u[:, :rank] * s[:rank]) @ vt[:rank]
        energy[name] = float(np.sum(s[:rank] ** 2) / np.sum(s ** 2))
    tensors["delta." + name] = d
    tensors["applied." + name] = b[name] + d
write(out, tensors, {"energy": json.dumps(energy)})
