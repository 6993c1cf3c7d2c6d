#!/usr/bin/env bash
# One control vector in several layer bands, as Højer et al. measure control vectors: for each band in BANDS the
# vector is kept at those layers only (`--layers`) and swept over SWEEP on the same questions; each scale's answer
# length, accuracy, KL divergence of the steered next-token distribution from the unsteered one on the unsteered
# text (first token and mean, nats) and the entropy of the steered distribution (bits) come from steer-eval.
# The markdown table goes to stdout and OUT/compare.md; OUT/compare.svg plots mean KL and entropy against the scale,
# one line per band. Each band keeps its JSON, texts, log and length/KL plot in OUT; finished bands are skipped when
# the script runs again.
#
#   MODEL=qwen2.5-coder-0.5b VECTOR=concise.gguf BANDS="3-8 9-14 15-20" SWEEP=-0.4:0.4:0.2 \
#     scripts/compare-layer-bands.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
vane=${VANE:-.build/release/vane}
out=${1:-/tmp/vane-compare-layer-bands}
model=${MODEL:-smollm2}
vector=${VECTOR:-vectors/concise-smollm2.gguf}
bands=${BANDS:-6-10 11-14 15-18}
sweep=${SWEEP:--0.4:0.4:0.4}
questions=${QUESTIONS:-vectors/data/questions-heldout.jsonl}
max_tokens=${MAX_TOKENS:-96}
mkdir -p "$out"

source scripts/compare-common.sh
for band in $bands; do
  run_step "band-$band" "$out/band-$band.json" "$vane" steer-eval "$model" "$questions" --steer "$vector" \
    --layers "$band" --sweep="$sweep" --max-tokens "$max_tokens" --json --texts "$out/band-$band.texts.jsonl" \
    --plot "$out/band-$band.svg"
done

python3 - "$out" "$bands" <<'PYEOF'
import json, os, sys
sys.path.insert(0, "scripts")
from lineplot import Panel, legend, ticks, write

out, bands = sys.argv[1], sys.argv[2].split()
runs = {b: json.load(open(f"{out}/band-{b}.json")) for b in bands}
table = ["| layers | scale | mean length | accuracy [95% CI] | first-token KL (nats) | mean KL (nats) | entropy (bits) |",
         "|---|---:|---:|---|---:|---:|---:|"]
for b in bands:
    for r in runs[b]["rows"]:
        acc = "–" if r.get("accuracy") is None else \
            f"{r['accuracy']:.3f} [{r['accuracy_low']:.3f}, {r['accuracy_high']:.3f}]"
        table.append(f"| {b} | {r['scale']:g} | {r['mean_length']:.1f} | {acc} | {r['first_token_kl']:.4f} | "
                     f"{r['mean_kl']:.4f} | {r['entropy_bits']:.3f} |")
    rho = (runs[b].get("spearman_scale_mean_length") or {}).get("rho")
    table.append(f"| {b} | ρ(scale, length) | " + ("–" if rho is None else f"{rho:.3f}") + " | | | | |")
open(f"{out}/compare.md.partial", "w").write("\n".join(table) + "\n")
os.replace(f"{out}/compare.md.partial", f"{out}/compare.md")
print("\n".join(table))

# Two panels against the scale: mean KL (left) and entropy (right), one line per band.
colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
scales = sorted({r["scale"] for b in bands for r in runs[b]["rows"]})
parts = []
for p, (key, label) in enumerate((("mean_kl", "mean KL from unsteered (nats)"), ("entropy_bits", "entropy (bits)"))):
    values = [r[key] for b in bands for r in runs[b]["rows"]]
    lo = 0 if key == "mean_kl" else min(values) * 0.95
    panel = Panel(60 + p * 340, 20, 270, 290, (scales[0], scales[-1]), (lo, max(values) * 1.05))
    parts += panel.axes([(s, f"{s:g}") for s in scales], ticks(*panel.ys, fmt="{:.2f}"), "scale", title=label)
    for k, b in enumerate(bands):
        rows = sorted(runs[b]["rows"], key=lambda r: r["scale"])
        parts += panel.line([(r["scale"], r[key]) for r in rows], colors[k % len(colors)])
parts += legend(700, 28, [(f"layers {b}", colors[k % len(colors)]) for k, b in enumerate(bands)])
write(f"{out}/compare.svg", 820, 360, parts)
PYEOF
