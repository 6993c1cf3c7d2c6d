#!/usr/bin/env bash
# `generate --steer` start-up on a ~1 GB model with three vectors (BENCHMARKS.md, "Model identity").
#
# Each vector records the model's identity (vane.model_sha256) and loading it checks that against the model, so a
# vane that hashes the model per vector pays three hashes before the first token, one that keeps the digest pays
# one. The model: SmolLM2-135M dequantized to F32 (`vane convert --dtype f32`, 540 MB) with every block repeated
# twice (60 blocks, a passthrough self-merge written here in Python), 965 MB, as an HF folder in three shards and
# as a GGUF. The vectors: the shipped efficiency and concise vectors (width 576, blocks ≤ 29) with their
# vane.model_sha256 set to that model's identity, computed with hashlib as ModelIdentity.swift defines it.
#
# Times `generate MODEL --prompt hi --max-tokens 1` with no vector and with --steer ×3, warm page cache (one
# untimed run first), best of 3, for $VANE and, when set, $VANE_BEFORE (a build of an older commit).
#
# Usage: scripts/bench-identity.sh [WORKDIR]     (VANE=path/to/vane, VANE_BEFORE=path/to/older/vane)
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
[ -d "$work/f32" ] || "$VANE" convert smollm2 "$work/f32" --dtype f32 >&2

python3 - "$work/f32" "$work/deep" <<'PY'
# Writes DEST: SRC's HF folder with each block L repeated as blocks 2L and 2L+1, in shards of at most 400 MB.
import json, os, re, shutil, struct, sys
src, dest = sys.argv[1], sys.argv[2]
if os.path.exists(os.path.join(dest, "model.safetensors.index.json")):
    sys.exit(0)
os.makedirs(dest, exist_ok=True)
with open(os.path.join(src, "model.safetensors"), "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
header.pop("__metadata__", None)
tensors = []  # (name, dtype, shape, bytes)
for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    begin, end = t["data_offsets"]
    m = re.match(r"model\.layers\.(\d+)\.(.*)", name)
    copies = [f"model.layers.{2 * int(m[1]) + k}.{m[2]}" for k in (0, 1)] if m else [name]
    tensors += [(c, t["dtype"], t["shape"], data[begin:end]) for c in copies]
total = sum(len(b) for *_, b in tensors)
shards, current, size = [], [], 0
for t in tensors:
    if current and size + len(t[3]) > 400_000_000:
        shards.append(current)
        current, size = [], 0
    current.append(t)
    size += len(t[3])
shards.append(current)
weight_map = {}
for i, shard in enumerate(shards):
    file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
    head, offset = {}, 0
    for name, dtype, shape, b in shard:
        head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        weight_map[name] = file
    raw = json.dumps(head).encode()
    raw += b" " * (-len(raw) % 8)
    with open(os.path.join(dest, file), "wb") as out:
        out.write(struct.pack("<Q", len(raw)) + raw)
        for *_, b in shard:
            out.write(b)
with open(os.path.join(dest, "model.safetensors.index.json"), "w") as out:
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, out)
config = json.load(open(os.path.join(src, "config.json")))
config["num_hidden_layers"] *= 2
json.dump(config, open(os.path.join(dest, "config.json"), "w"), indent=2)
for name in os.listdir(src):
    if not name.endswith(".safetensors") and name not in ("config.json", "model.safetensors.index.json"):
        shutil.copy(os.path.join(src, name), dest)
PY
[ -f "$work/deep.gguf" ] || "$VANE" convert "$work/deep" "$work/deep.gguf" >&2

python3 - "$work" <<'PY'
# For each model, three vectors whose vane.model_sha256 is its identity (ModelIdentity.swift's definition).
import hashlib, json, os, sys
work = sys.argv[1]
def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()
folder = os.path.join(work, "deep")
shards = sorted(set(json.load(open(os.path.join(folder, "model.safetensors.index.json")))["weight_map"].values()))
identities = {
    "gguf": file_digest(os.path.join(work, "deep.gguf")),
    "folder": hashlib.sha256("\n".join(file_digest(os.path.join(folder, n)) for n in ["config.json"] + shards).encode()).hexdigest(),
}
smollm2 = b"b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
for kind, identity in identities.items():
    for i, source in enumerate(["efficiency-smollm2.gguf", "concise-smollm2.gguf", "efficiency-smollm2.gguf"]):
        raw = open(os.path.join("vectors", source), "rb").read()
        assert raw.count(smollm2) == 1, source
        open(os.path.join(work, f"v{i + 1}-{kind}.gguf"), "wb").write(raw.replace(smollm2, identity.encode()))
PY

best_of_3() {  # prints the lowest wall time of three runs of "$@", after one untimed run
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    for _ in 1 2 3; do
        local start end
        start=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        end=$(date +%s.%N)
        awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
    done | sort -n | head -1
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for kind in gguf folder; do
    model=$work/deep.gguf
    [ "$kind" = folder ] && model=$work/deep
    bytes=$(du -sb --apparent-size "$model" | cut -f1)
    steer=(--steer "$work/v1-$kind.gguf" --steer "$work/v2-$kind.gguf" --steer "$work/v3-$kind.gguf")
    for which in VANE_BEFORE VANE; do
        bin=${!which:-}
        [ -n "$bin" ] || continue
        plain=$(best_of_3 "$bin" generate "$model" --prompt hi --max-tokens 1)
        steered=$(best_of_3 "$bin" generate "$model" --prompt hi --max-tokens 1 "${steer[@]}")
        awk -v k="$kind" -v w="$which" -v b="$bytes" -v p="$plain" -v s="$steered" 'BEGIN {
            printf "%-6s %.0f MB  %-11s no vector %.2f s   --steer x3 %.2f s   difference %.2f s\n",
                   k, b / 1e6, w, p, s, s - p }'
    done
done
