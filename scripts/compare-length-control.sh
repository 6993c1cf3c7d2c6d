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

source scripts/compare-common.sh

run() {  # NAME, then steer-eval's options
  local name=$1; shift
  run_step "$name" "$out/$name.json" "$vane" steer-eval "$model" "$questions" --max-tokens "$max_tokens" --json \
    --texts "$out/$name.texts.jsonl" --plot "$out/$name.svg" "$@"
}

run everywhere --steer "$vector@layers=$layers" --sweep="$everywhere"
run boundary --steer "$vector@layers=$layers,positions=$trigger" --sweep="$boundary"
for n in $budgets; do
  run "budget-$n" --steer "$vector@layers=$layers" --sweep=0:0:1 --think-markers "$markers" \
    --think-budget "$n"
done

python3 - "$out" "$budgets" <<'EOF'
import json, os, sys
sys.path.insert(0, "scripts")
from lineplot import Panel, legend, ticks, write

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

# Accuracy (with its interval) against mean length, one line per method.
panel = Panel(60, 20, 430, 330, (0, max(r["mean_length"] for _, _, r in rows) * 1.05), (0, 1))
parts = panel.axes(ticks(*panel.xs, fmt="{:.0f}"), ticks(0, 1), "mean answer length (tokens)", "accuracy (95% CI)")
colors = {"everywhere": "#1f77b4", "boundary": "#d62728", "budget": "#2ca02c"}
for method, c in colors.items():
    pts = sorted((r for m, _, r in rows if m == method), key=lambda r: r["mean_length"])
    parts += panel.line([(r["mean_length"], r["accuracy"]) for r in pts], c,
                        bars=[(r["accuracy_low"], r["accuracy_high"]) for r in pts])
parts += legend(502, 28, colors.items())
write(f"{out}/compare.svg", 640, 400, parts)
EOF
