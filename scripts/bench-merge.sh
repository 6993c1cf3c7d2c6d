#!/usr/bin/env bash
# Merge throughput and peak memory on the default model. Makes three dequantized F32 copies of SmolLM2-135M
# (HF folders, ~540 MB each) with `vane convert`, then runs a linear and a TIES merge of them under
# /usr/bin/time -v and prints peak RSS next to the model size (the merge streams one tensor at a time, so peak RSS
# should stay near the largest tensor — the 49152×576 embedding, 113 MB in F32 — times the number of inputs, far
# below 3 × the model) and MB/s of input read.
#
# Usage: scripts/bench-merge.sh [WORKDIR]     (VANE=path/to/vane to use another binary)
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"

for name in a b c; do
    [ -d "$work/$name" ] || "$VANE" convert smollm2 "$work/$name" --dtype f32 >&2
done
# Three identical copies would make every task vector zero; the copies stay identical on disk, which is fine for
# timing — the merge reads and computes every tensor regardless.
cat > "$work/linear.yaml" <<YAML
merge_method: linear
models:
  - {model: a, parameters: {weight: 0.5}}
  - {model: b, parameters: {weight: 0.3}}
  - {model: c, parameters: {weight: 0.2}}
dtype: float32
YAML
cat > "$work/ties.yaml" <<YAML
merge_method: ties
base_model: a
models:
  - {model: b, parameters: {weight: 1.0, density: 0.5}}
  - {model: c, parameters: {weight: 0.5, density: 0.3}}
dtype: float32
YAML

model_bytes=$(du -sb "$work/a" | cut -f1)
for method in linear ties; do
    rm -rf "$work/out-$method"
    /usr/bin/time -v "$VANE" merge "$work/$method.yaml" -o "$work/out-$method" 2> "$work/time-$method.txt"
    rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time-$method.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time-$method.txt")
    seconds=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    awk -v m="$method" -v rss="$rss_kb" -v s="$seconds" -v bytes="$model_bytes" 'BEGIN {
        printf "%-7s inputs 3 × %.0f MB   wall %.1f s   %.0f MB/s read   peak RSS %.0f MB (%.2f × one model)\n",
               m, bytes / 1e6, s, 3 * bytes / 1e6 / s, rss / 1024, rss * 1024 / bytes }'
done
