#!/usr/bin/env bash
# Vane and mergekit side by side on the same merges of SmolLM2-135M: three float32 HF copies (one from
# `vane convert smollm2 DIR --dtype f32`, two with small seeded noise added to every tensor, ~540 MB each), merged
# with linear, task_arithmetic and TIES from the same YAML by `vane merge` and by mergekit's `mergekit-yaml`, each
# under /usr/bin/time -v. Prints a Markdown table: wall time and peak RSS of each tool (min–max over RUNS runs),
# the largest |Δ| between their outputs over every tensor, and the machine (CPU model, SIMD flags, cores).
#
# Peak RSS should stay near the largest tensor (the 49152 × 576 embedding, 113 MB in f32) times the number of
# inputs, far below the 1.6 GB of the three models: the merge streams one tensor at a time.
#
# Usage: scripts/bench-merge.sh [WORKDIR]
#   VANE=path/to/vane      use this binary instead of building one
#   MERGEKIT_VENV=DIR      the venv holding mergekit (created with mergekit 0.1.5 and CPU torch when missing;
#                          default $VANE_CACHE/mergekit-0.1.5, VANE_CACHE defaulting to ~/.cache/vane)
#   RUNS=N                 runs of each tool per method (default 3; the first reads cold files)
#   MODEL=NAME             another model `vane fetch` knows (e.g. qwen2.5-coder-1.5b: 3 × 6.2 GB of f32 inputs)
#   VANE_ONLY=1            measure Vane alone (mergekit needs about 6 × one input's size in memory)
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
runs=${RUNS:-3}
venv=${MERGEKIT_VENV:-${VANE_CACHE:-$HOME/.cache/vane}/mergekit-0.1.5}

if [ ! -x /usr/bin/time ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq time >/dev/null
fi
if [ ! -x "$venv/bin/mergekit-yaml" ]; then
    echo "creating $venv with mergekit 0.1.5 (CPU torch)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --extra-index-url https://download.pytorch.org/whl/cpu torch "mergekit==0.1.5" >&2
fi
py="$venv/bin/python"

# The three inputs: a is the default model in f32; b and c add seeded Gaussian noise of 1% of each tensor's RMS.
model=${MODEL:-smollm2}
[ "$model" = smollm2 ] || "$VANE" fetch "$model" >&2
[ -d "$work/a" ] || "$VANE" convert "$model" "$work/a" --dtype f32 >&2
for spec in b:1 c:2; do
    name=${spec%%:*} seed=${spec##*:}
    [ -d "$work/$name" ] && continue
    "$py" - "$work/a" "$work/$name" "$seed" <<'PY'
import json, os, shutil, struct, sys
import numpy as np
src, dst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(seed)
tmp = dst + ".partial"
shutil.rmtree(tmp, ignore_errors=True)
shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("*.safetensors"))
for shard in sorted(f for f in os.listdir(src) if f.endswith(".safetensors")):
    raw = open(os.path.join(src, shard), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = bytearray(raw)
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", f"{name} is {info['dtype']}, expected F32"
        begin, end = (8 + n + o for o in info["data_offsets"])
        x = np.frombuffer(raw[begin:end], dtype="<f4")
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0
        noisy = x + np.float32(0.01 * rms) * rng.standard_normal(x.size, dtype=np.float32)
        out[begin:end] = noisy.astype("<f4").tobytes()
    open(os.path.join(tmp, shard), "wb").write(out)
os.rename(tmp, dst)
PY
done

# One YAML per method, read by both tools (absolute paths: mergekit resolves against the working directory,
# Vane against the YAML's folder).
cat > "$work/linear.yaml" <<YAML
merge_method: linear
models:
  - {model: $work/a, parameters: {weight: 0.5}}
  - {model: $work/b, parameters: {weight: 0.3}}
  - {model: $work/c, parameters: {weight: 0.2}}
dtype: float32
YAML
cat > "$work/task_arithmetic.yaml" <<YAML
merge_method: task_arithmetic
base_model: $work/a
models:
  - {model: $work/b, parameters: {weight: 1.0}}
  - {model: $work/c, parameters: {weight: 0.6}}
dtype: float32
YAML
cat > "$work/ties.yaml" <<YAML
merge_method: ties
base_model: $work/a
models:
  - {model: $work/b, parameters: {weight: 1.0, density: 0.5}}
  - {model: $work/c, parameters: {weight: 0.6, density: 0.3}}
parameters: {normalize: true}
dtype: float32
YAML

# Runs a command under /usr/bin/time -v; prints "seconds rss_mb".
measure() {
    local log=$work/time.txt
    /usr/bin/time -v "$@" >"$work/run.log" 2>"$log" || { cat "$work/run.log" "$log" >&2; exit 1; }
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
                /Maximum resident set size/ { rss = $2 / 1024 }
                END { printf "%.2f %.0f\n", s, rss }' "$log"
}
# "min–max" (or one value) of a column of numbers, with a unit.
range() { sort -g | awk -v u="$1" -v f="$2" 'NR == 1 { lo = $1 } { hi = $1 }
    END { if (lo == hi) printf f u, lo; else printf f "–" f u, lo, hi }'; }

rows=()
for method in linear task_arithmetic ties; do
    : > "$work/vane-$method.times"; : > "$work/mergekit-$method.times"
    for _ in $(seq "$runs"); do
        rm -rf "$work/vane-$method" "$work/mergekit-$method"
        measure "$VANE" merge "$work/$method.yaml" -o "$work/vane-$method" >> "$work/vane-$method.times"
        [ "${VANE_ONLY:-0}" = 1 ] || measure "$venv/bin/mergekit-yaml" "$work/$method.yaml" "$work/mergekit-$method" >> "$work/mergekit-$method.times"
    done
    if [ "${VANE_ONLY:-0}" = 1 ]; then
        rm -rf "$work/vane-$method"
        rows+=("| $method | $(cut -d' ' -f1 "$work/vane-$method.times" | range " s" "%.2f") | $(cut -d' ' -f2 "$work/vane-$method.times" | range " MB" "%.0f") | — | — | — |")
        continue
    fi
    delta=$("$py" - "$work/vane-$method" "$work/mergekit-$method" <<'PY'
import json, os, struct, sys
import numpy as np
def tensors(folder):
    out = {}
    for shard in sorted(f for f in os.listdir(folder) if f.endswith(".safetensors")):
        raw = open(os.path.join(folder, shard), "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        for name, info in json.loads(raw[8:8 + n]).items():
            if name == "__metadata__":
                continue
            dtype = {"F32": "<f4", "F16": "<f2"}[info["dtype"]]
            begin, end = (8 + n + o for o in info["data_offsets"])
            out[name] = np.frombuffer(raw[begin:end], dtype=dtype).astype(np.float64).reshape(info["shape"])
    return out
vane, mk = tensors(sys.argv[1]), tensors(sys.argv[2])
common = sorted(set(vane) & set(mk))
worst, where, differing = 0.0, "", 0
for name in common:
    d = float(np.max(np.abs(vane[name] - mk[name]))) if vane[name].size else 0.0
    differing += d > 0
    if d > worst:
        worst, where = d, name
extra = len(set(vane) ^ set(mk))
note = f" in {where}; {differing}/{len(common)} tensors differ" if worst > 0 else f"; {len(common)} tensors"
print(f"{worst:.1e}{note}" + (f"; {extra} tensors in one output only" if extra else ""))
PY
)
    rows+=("| $method | $(cut -d' ' -f1 "$work/vane-$method.times" | range " s" "%.2f") | $(cut -d' ' -f2 "$work/vane-$method.times" | range " MB" "%.0f") | $(cut -d' ' -f1 "$work/mergekit-$method.times" | range " s" "%.2f") | $(cut -d' ' -f2 "$work/mergekit-$method.times" | range " MB" "%.0f") | $delta |")
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx|avx2|fma|f16c|avx512f|avx512bw|avx512_bf16|avx_vnni|amx_tile' | paste -sd' ' -)
largest=$("$py" - "$work/a" <<'PY'
import json, os, struct, sys
sizes = []
for shard in (f for f in os.listdir(sys.argv[1]) if f.endswith(".safetensors")):
    with open(os.path.join(sys.argv[1], shard), "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    sizes += [i["data_offsets"][1] - i["data_offsets"][0] for k, i in header.items() if k != "__metadata__"]
print(f"{max(sizes) / 1e6:.0f} MB")
PY
)
versions=$("$py" -c 'import importlib.metadata as m; print("mergekit", m.version("mergekit") + ", torch", m.version("torch"))')
echo
echo "Machine: $cpu, $(nproc) cores ($flags); load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
echo "Vane $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $versions. Inputs: $model, 3 × $(du -sb "$work/a" | awk '{ printf "%.0f", $1 / 1e6 }') MB f32 HF folders;"
echo "largest tensor $largest (× 3 inputs = the floor a tensor-at-a-time merge cannot go below). $runs run$([ "$runs" = 1 ] || echo s) of each."
echo
echo "| method | Vane wall | Vane peak RSS | mergekit wall | mergekit peak RSS | max \|Δ\| Vane vs mergekit |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
printf '%s\n' "${rows[@]}"
