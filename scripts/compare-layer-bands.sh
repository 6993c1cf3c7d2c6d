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

for band in $bands; do
  [[ -s "$out/band-$band.json" ]] && continue
  if ! "$vane" steer-eval "$model" "$questions" --steer "$vector" --layers "$band" --sweep="$sweep" \
    --max-tokens "$max_tokens" --json --texts "$out/band-$band.texts.jsonl" --plot "$out/band-$band.svg" \
    > "$out/band-$band.json.partial" 2> "$out/band-$band.log"; then
    echo "compare-layer-bands: the band $band run failed ($out/band-$band.log):" >&2
    cat "$out/band-$band.log" >&2
    exit 1
  fi
  mv "$out/band-$band.json.partial" "$out/band-$band.json"
done

python3 - "$out" "$bands" <<'PYEOF'
import json, os, sys

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

# Two panels against the scale: mean KL (left) and entropy (right), one polyline per band.
W, H, L, T, B, gap, panel = 820, 360, 60, 20, 50, 70, 270
colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
scales = sorted({r["scale"] for b in bands for r in runs[b]["rows"]})
s0, s1 = scales[0], scales[-1] if scales[-1] > scales[0] else scales[0] + 1
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>']
for p, (key, label) in enumerate((("mean_kl", "mean KL from unsteered (nats)"), ("entropy_bits", "entropy (bits)"))):
    x0 = L + p * (panel + gap)
    values = [r[key] for b in bands for r in runs[b]["rows"]]
    lo = 0 if key == "mean_kl" else min(values) * 0.95
    hi = max(values) * 1.05 if max(values) > lo else lo + 1
    px = lambda s: x0 + (s - s0) / (s1 - s0) * panel
    py = lambda y: T + (1 - (y - lo) / (hi - lo)) * (H - T - B)
    svg.append(f'<line x1="{x0}" y1="{py(lo):.1f}" x2="{x0 + panel}" y2="{py(lo):.1f}" stroke="black"/>')
    svg.append(f'<line x1="{x0}" y1="{py(lo):.1f}" x2="{x0}" y2="{py(hi):.1f}" stroke="black"/>')
    for i in range(6):
        y = lo + i * (hi - lo) / 5
        svg.append(f'<text x="{x0 - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:.2f}</text>')
        svg.append(f'<line x1="{x0}" y1="{py(y):.1f}" x2="{x0 + panel}" y2="{py(y):.1f}" stroke="#ddd"/>')
    for s in scales:
        svg.append(f'<text x="{px(s):.1f}" y="{py(lo) + 16:.1f}" text-anchor="middle">{s:g}</text>')
    svg.append(f'<text x="{x0 + panel / 2}" y="{H - 10}" text-anchor="middle">scale</text>')
    svg.append(f'<text x="{x0 + panel / 2}" y="{T - 6}" text-anchor="middle">{label}</text>')
    for k, b in enumerate(bands):
        rows = sorted(runs[b]["rows"], key=lambda r: r["scale"])
        c = colors[k % len(colors)]
        svg.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="'
                   + " ".join(f"{px(r['scale']):.1f},{py(r[key]):.1f}" for r in rows) + '"/>')
        for r in rows:
            svg.append(f'<circle cx="{px(r["scale"]):.1f}" cy="{py(r[key]):.1f}" r="3" fill="{c}"/>')
for k, b in enumerate(bands):
    c = colors[k % len(colors)]
    svg.append(f'<rect x="{L + 2 * panel + gap + 20}" y="{T + 8 + 18 * k}" width="12" height="3" fill="{c}"/>')
    svg.append(f'<text x="{L + 2 * panel + gap + 38}" y="{T + 12 + 18 * k}">layers {b}</text>')
svg.append("</svg>")
open(f"{out}/compare.svg.partial", "w").write("\n".join(svg) + "\n")
os.replace(f"{out}/compare.svg.partial", f"{out}/compare.svg")
PYEOF
