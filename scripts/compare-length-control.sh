#!/usr/bin/env bash
# Three ways to shorten answers, on the same held-out questions:
#   everywhere  the efficiency vector added at every position, swept over EVERYWHERE;
#   boundary    the same vector added only at thought boundaries — SEAL's trigger, the token in which "\n\n" ends
#               (TRIGGER, default at:\n\n) — swept over BOUNDARY;
#   budget      no vector; after N response tokens the answer phrase ANSWER (default "\nThe answer is", escapes
#               as in segment triggers) is written for the model — budget forcing, with the whole response as the
#               thinking span, for models without a <think> of their own — for N in BUDGETS. MARKERS (default
#               "<|im_start|>assistant,$ANSWER", ChatML) sets the span: MARKERS='<think>,</think>' for a model
#               that thinks between those.
# Every run is a steer-eval (greedy, chat template); the markdown table (mean length, accuracy with its 95% Wilson
# interval, KL, how many generated tokens the trigger steered) goes to stdout and OUT/compare.md, and
# OUT/compare.svg plots accuracy against mean length, so the methods are compared at matched length. Each run keeps
# its JSON, texts, log and length/KL plot in OUT (OUT/everywhere.* is a plain held-out sweep of the vector), and
# finished runs are skipped when the script runs again.
#
#   MODEL=qwen2.5-coder-1.5b VECTOR=vectors/efficiency-qwen2.5-coder-1.5b.gguf LAYERS=… \
#     scripts/compare-length-control.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
vane=${VANE:-.build/release/vane}
out=${1:-/tmp/vane-compare-length-control}
model=${MODEL:-smollm2}
vector=${VECTOR:-vectors/efficiency-smollm2.gguf}
layers=${LAYERS:-6-18}
questions=${QUESTIONS:-vectors/data/questions-heldout.jsonl}
max_tokens=${MAX_TOKENS:-128}
everywhere=${EVERYWHERE:-0:0.2:0.1}
boundary=${BOUNDARY:-0.2:0.6:0.2}
budgets=${BUDGETS:-16 32 48}
trigger=${TRIGGER:-'at:\n\n'}
answer=${ANSWER:-'\nThe answer is'}
markers=${MARKERS:-"<|im_start|>assistant,$answer"}
mkdir -p "$out"

run() {  # NAME, then steer-eval's options
  local name=$1; shift
  [[ -s "$out/$name.json" ]] && return
  if ! "$vane" steer-eval "$model" "$questions" --max-tokens "$max_tokens" --json --texts "$out/$name.texts.jsonl" \
    --plot "$out/$name.svg" "$@" > "$out/$name.json.partial" 2> "$out/$name.log"; then
    echo "compare-length-control: the $name run failed ($out/$name.log):" >&2
    cat "$out/$name.log" >&2
    exit 1
  fi
  mv "$out/$name.json.partial" "$out/$name.json"
}

run everywhere --steer "$vector@layers=$layers" --sweep="$everywhere"
run boundary --steer "$vector@layers=$layers,positions=$trigger" --sweep="$boundary"
for n in $budgets; do
  run "budget-$n" --steer "$vector@layers=$layers" --sweep=0:0:1 --think-markers "$markers" \
    --think-budget "$n"
done

python3 - "$out" "$budgets" <<'EOF'
import json, os, sys

out, budgets = sys.argv[1], sys.argv[2].split()
rows = []  # (method, setting, row)
for method in ("everywhere", "boundary"):
    for r in json.load(open(f"{out}/{method}.json"))["rows"]:
        rows.append((method, f"scale {r['scale']:g}", r))
for n in budgets:
    rows.append(("budget", f"{n} tokens", json.load(open(f"{out}/budget-{n}.json"))["rows"][0]))

table = ["| method | setting | mean length | median length | accuracy [95% CI] | mean KL (nats) | trigger-steered tokens per answer |",
         "|---|---|---:|---:|---|---:|---:|"]
for method, setting, r in rows:
    fired = r.get("trigger_positions")
    table.append(f"| {method} | {setting} | {r['mean_length']:.1f} | {r['median_length']:.0f} | "
                 f"{r['accuracy']:.3f} [{r['accuracy_low']:.3f}, {r['accuracy_high']:.3f}] | {r['mean_kl']:.4f} | "
                 + (f"{fired:.1f}" if fired is not None else "–") + " |")
open(f"{out}/compare.md.partial", "w").write("\n".join(table) + "\n")
os.replace(f"{out}/compare.md.partial", f"{out}/compare.md")
print("\n".join(table))

# Accuracy (with its interval) against mean length, one polyline per method.
W, H, L, R, T, B = 640, 400, 60, 150, 20, 50
xs = [r["mean_length"] for _, _, r in rows]
x0, x1 = 0, max(xs) * 1.05
px = lambda x: L + (x - x0) / (x1 - x0) * (W - L - R)
py = lambda y: T + (1 - y) * (H - T - B)
colors = {"everywhere": "#1f77b4", "boundary": "#d62728", "budget": "#2ca02c"}
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{L}" y1="{py(0)}" x2="{W - R}" y2="{py(0)}" stroke="black"/>',
       f'<line x1="{L}" y1="{py(0)}" x2="{L}" y2="{py(1)}" stroke="black"/>']
for i in range(6):
    y = i / 5
    svg.append(f'<text x="{L - 6}" y="{py(y) + 4}" text-anchor="end">{y:.1f}</text>')
    svg.append(f'<line x1="{L}" y1="{py(y)}" x2="{W - R}" y2="{py(y)}" stroke="#ddd"/>')
for i in range(6):
    x = x0 + i * (x1 - x0) / 5
    svg.append(f'<text x="{px(x)}" y="{py(0) + 16}" text-anchor="middle">{x:.0f}</text>')
svg.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">mean answer length (tokens)</text>')
svg.append(f'<text x="14" y="{(T + H - B) / 2}" transform="rotate(-90 14 {(T + H - B) / 2})" text-anchor="middle">accuracy (95% CI)</text>')
for k, method in enumerate(("everywhere", "boundary", "budget")):
    pts = sorted(((r["mean_length"], r) for m, _, r in rows if m == method), key=lambda t: t[0])
    c = colors[method]
    svg.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="'
               + " ".join(f"{px(x):.1f},{py(r['accuracy']):.1f}" for x, r in pts) + '"/>')
    for x, r in pts:
        svg.append(f'<line x1="{px(x):.1f}" y1="{py(r["accuracy_low"]):.1f}" x2="{px(x):.1f}" y2="{py(r["accuracy_high"]):.1f}" stroke="{c}"/>')
        svg.append(f'<circle cx="{px(x):.1f}" cy="{py(r["accuracy"]):.1f}" r="3" fill="{c}"/>')
    svg.append(f'<rect x="{W - R + 12}" y="{T + 8 + 18 * k}" width="12" height="3" fill="{c}"/>')
    svg.append(f'<text x="{W - R + 30}" y="{T + 12 + 18 * k}">{method}</text>')
svg.append("</svg>")
open(f"{out}/compare.svg.partial", "w").write("\n".join(svg) + "\n")
os.replace(f"{out}/compare.svg.partial", f"{out}/compare.svg")
EOF
