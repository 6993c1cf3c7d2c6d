#!/usr/bin/env bash
# Chooses the method and layer band of the shipped efficiency vector on the 20 validation questions, never on the
# held-out ones: each candidate is computed from the recipe's store (vectors/efficiency-smollm2.h5) and swept over
# the same scales; the table (Spearman ρ of scale and mean length, and the mean lengths) goes to stdout as
# markdown. Takes about 5 minutes per candidate on 2 idle cores with SmolLM2 (CANDIDATES="METHOD:LAYERS ..." to try
# others; MODEL, STORE and MAX_TOKENS for another model's recipe, e.g. MODEL=qwen2.5-coder-1.5b STORE=…/efficiency-….h5).
#
#   scripts/select-efficiency.sh [OUTDIR]        # default /tmp/vane-select-efficiency
set -euo pipefail
cd "$(dirname "$0")/.."
vane=${VANE:-.build/release/vane}
out=${1:-/tmp/vane-select-efficiency}
model=${MODEL:-smollm2}
store=${STORE:-vectors/efficiency-smollm2.h5}
sweep=${SWEEP:--0.3:0.3:0.1}
candidates=${CANDIDATES:-"mean-diff:6-18 pca-diff:6-18 probe:6-18"}
mkdir -p "$out"
for candidate in $candidates; do
  method=${candidate%%:*} layers=${candidate#*:}
  name="$method-$layers"
  [[ -s "$out/$name.json" ]] && continue  # done in an earlier, interrupted run
  "$vane" vector compute "$store" --method "$method" --layers "$layers" -o "$out/$name.gguf" > /dev/null
  "$vane" steer-eval "$model" vectors/data/questions-validation.jsonl --steer "$out/$name.gguf" \
    --sweep="$sweep" --max-tokens "${MAX_TOKENS:-128}" --json --plot "$out/$name.svg" > "$out/$name.json.partial" 2> /dev/null
  mv "$out/$name.json.partial" "$out/$name.json"
done
python3 - "$out" $candidates <<'EOF'
import json, sys

def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r

def spearman(x, y):
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    var = (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5
    return cov / var if var else 0.0

out, candidates = sys.argv[1], sys.argv[2:]
rows = {c: json.load(open(f"{out}/{c.replace(':', '-')}.json"))["rows"] for c in candidates}
scales = [r["scale"] for r in rows[candidates[0]]]
print("| method | layers | ρ(scale, mean length) | " + " | ".join(f"{s:g}" for s in scales) + " |")
print("|---|---|---:|" + "---:|" * len(scales))
for c, rs in rows.items():
    method, layers = c.split(":")
    lengths = [r["mean_length"] for r in rs]
    print(f"| {method} | {layers} | {spearman(scales, lengths):.3f} | " + " | ".join(f"{l:.1f}" for l in lengths) + " |")
EOF
