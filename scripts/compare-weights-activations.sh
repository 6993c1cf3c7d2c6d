#!/usr/bin/env bash
# Length control in parameter space against activation steering, on the same held-out questions — CoT-Valve's
# interpolation between a long- and a short-answer model, and AdaR1's merge, with the two endpoints made from one
# direction:
#   verbose   MODEL with VERBOSE·v baked in (`vane edit add`), concise with CONCISE·v;
#   Δ         their task vector θ_concise − θ_verbose (`vane diff`);
#   α         θ_verbose + α·Δ (`vane apply`) for α = 0, STEP, 2·STEP, …, 1; at each inner α the `linear` and `slerp`
#             merges of the two endpoints (mergekit YAML, `vane merge`) are compared with it tensor by tensor
#             (`vane diff`: the largest ‖Δ‖ of any tensor, 0 for equal weights), then deleted;
#   steering  the original MODEL steered by v at the scale each α stands for, VERBOSE + α·(CONCISE − VERBOSE), one
#             steer-eval sweep (or, with ACTIVATIONS=FILE.json, the rows of a recorded sweep at those scales).
# Every model is evaluated greedily with the chat template (steer-eval at scale 0: length and accuracy with its 95%
# Wilson interval). The markdown table goes to stdout and OUT/compare.md; OUT/compare.svg plots mean length against
# α for weights and activations. Finished steps are skipped when the script runs again.
#
#   MODEL=qwen2.5-coder-1.5b VECTOR=vectors/efficiency-qwen2.5-coder-1.5b.gguf CONCISE=0.75 VERBOSE=-0.5 STEP=0.2 \
#     scripts/compare-weights-activations.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
vane=${VANE:-.build/release/vane}
out=${1:-/tmp/vane-compare-weights-activations}
model=${MODEL:-smollm2}
vector=${VECTOR:-vectors/efficiency-smollm2.gguf}
concise=${CONCISE:-0.1}
verbose=${VERBOSE:--0.1}
step=${STEP:-0.5}
questions=${QUESTIONS:-vectors/data/questions-heldout.jsonl}
max_tokens=${MAX_TOKENS:-128}
activations=${ACTIVATIONS:-}
mkdir -p "$out"

# α = 0, STEP, …, 1 and the scale each stands for, with as many decimals as the inputs need.
alpha_list=$(python3 -c "
import sys; from decimal import Decimal as D, InvalidOperation
try:
    s = D(sys.argv[1]); n = int(1 / s) if s > 0 else 0
except (InvalidOperation, ZeroDivisionError):
    n, s = 0, 0
if n < 1 or n * s != 1: sys.exit('compare-weights-activations: STEP=%s does not divide 1 (use 0.5, 0.25, 0.2, …)' % sys.argv[1])
print(' '.join(str((k * s).normalize()) if k else '0' for k in range(n + 1)))" "$step")
read -r -a alphas <<< "$alpha_list"
scale_of() { python3 -c "from decimal import Decimal as D; import sys; v, c, a = map(D, sys.argv[1:]); print((v + a * (c - v)).normalize() if v + a * (c - v) else 0)" "$verbose" "$concise" "$1"; }

source scripts/compare-common.sh

evaluate() {  # NAME MODEL [steer-eval options]: greedy steer-eval of MODEL on the questions, JSON into OUT/NAME.json
  local name=$1 m=$2; shift 2
  run_step "$name" "$out/$name.json" "$vane" steer-eval "$m" "$questions" --max-tokens "$max_tokens" --json \
    --texts "$out/$name.texts.jsonl" "$@"
}

run_step edit-concise "$out/edit-concise.txt" "$vane" edit add "$model" --vector "$vector:$concise" -o "$out/alpha-1.gguf"
run_step edit-verbose "$out/edit-verbose.txt" "$vane" edit add "$model" --vector "$vector:$verbose" -o "$out/alpha-0.gguf"
run_step diff "$out/diff.txt" "$vane" diff "$out/alpha-1.gguf" "$out/alpha-0.gguf" -o "$out/task-vector.safetensors"
for a in "${alphas[@]}"; do
  if [[ $a != 0 && $a != 1 ]]; then
    run_step "apply-$a" "$out/apply-$a.txt" "$vane" apply "$out/alpha-0.gguf" "$out/task-vector.safetensors" --scale "$a" \
      -o "$out/alpha-$a.gguf"
    for method in linear slerp; do
      [[ -e "$out/$method-$a.diff.json" ]] && continue
      if [[ $method == linear ]]; then
        printf 'merge_method: linear\nmodels:\n  - model: alpha-1.gguf\n    parameters: {weight: %s}\n  - model: alpha-0.gguf\n    parameters: {weight: %s}\ndtype: float32\n' \
          "$a" "$(python3 -c "from decimal import Decimal as D; import sys; print(1 - D(sys.argv[1]))" "$a")" > "$out/$method-$a.yaml"
      else
        printf 'merge_method: slerp\nbase_model: alpha-0.gguf\nmodels:\n  - model: alpha-0.gguf\n  - model: alpha-1.gguf\nparameters: {t: %s}\ndtype: float32\n' \
          "$a" > "$out/$method-$a.yaml"
      fi
      run_step "merge-$method-$a" "$out/merge-$method-$a.txt" "$vane" merge "$out/$method-$a.yaml" -o "$out/$method-$a.gguf"
      run_step "diff-$method-$a" "$out/$method-$a.diff.json" "$vane" diff "$out/$method-$a.gguf" "$out/alpha-$a.gguf" \
        -o "$out/$method-$a.minus-apply.safetensors" --json
      rm -f "$out/$method-$a.gguf" "$out/$method-$a.minus-apply.safetensors" "$out/merge-$method-$a.txt"
    done
  fi
  # Scale 0: the vector only names the hook; --force, since the edited file is not the model it was made for.
  evaluate "weights-$a" "$out/alpha-$a.gguf" --steer "$vector" --sweep 0:0:1 --force
done

# The activation side: one sweep of the original model over the scales the α stand for.
scales=()
for a in "${alphas[@]}"; do scales+=("$(scale_of "$a")"); done
if [[ -n $activations ]]; then
  cp "$activations" "$out/activations.json"
else
  read -r lo hi by <<< "$(python3 -c "
from decimal import Decimal as D; import sys
v, c, s = map(D, sys.argv[1:]); step = abs(c - v) * s
print(min(v, c).normalize(), max(v, c).normalize(), step.normalize())" "$verbose" "$concise" "$step")"
  evaluate activations "$model" --steer "$vector" --sweep="$lo:$hi:$by"
fi

python3 - "$out" "${alphas[*]}" "${scales[*]}" <<'PYEOF'
import json, os, sys
sys.path.insert(0, "scripts")
from lineplot import Panel, legend, ticks, write

out, alphas, scales = sys.argv[1], sys.argv[2].split(), [float(s) for s in sys.argv[3].split()]
steered = {round(r["scale"], 9): r for r in json.load(open(f"{out}/activations.json"))["rows"]}
missing = [s for s in scales if round(s, 9) not in steered]
if missing:
    sys.exit(f"compare-weights-activations: {out}/activations.json has no rows at scales {missing}")

def merged(method, a):  # the largest ‖merge − apply‖ over the tensors; "–" at the endpoints
    path = f"{out}/{method}-{a}.diff.json"
    if not os.path.exists(path):
        return "–"
    worst = max((t["delta_norm"] for t in json.load(open(path))["tensors"]), default=0)
    return "0" if worst == 0 else f"{worst:.1e}"

def acc(r):
    return f"{r['accuracy']:.3f} [{r['accuracy_low']:.3f}, {r['accuracy_high']:.3f}]"

table = ["| α | scale | weights: mean length | median | accuracy [95% CI] | steering: mean length | median | accuracy [95% CI] | max ‖linear − apply‖ | max ‖slerp − apply‖ |",
         "|---:|---:|---:|---:|---|---:|---:|---|---:|---:|"]
points = []
for a, s in zip(alphas, scales):
    w = json.load(open(f"{out}/weights-{a}.json"))["rows"][0]
    r = steered[round(s, 9)]
    points.append((float(a), w, r))
    table.append(f"| {a} | {s:g} | {w['mean_length']:.1f} | {w['median_length']:.0f} | {acc(w)} | "
                 f"{r['mean_length']:.1f} | {r['median_length']:.0f} | {acc(r)} | {merged('linear', a)} | {merged('slerp', a)} |")
open(f"{out}/compare.md.partial", "w").write("\n".join(table) + "\n")
os.replace(f"{out}/compare.md.partial", f"{out}/compare.md")
print("\n".join(table))

# Mean length against α: the interpolated models and the steered original.
panel = Panel(60, 20, 430, 330, (0, 1), (0, max(max(w["mean_length"], r["mean_length"]) for _, w, r in points) * 1.05))
parts = panel.axes([(a, f"{a:g}") for a, _, _ in points], ticks(*panel.ys, fmt="{:.0f}"),
                   "α (0: the verbose model, 1: the concise one)", "mean answer length (tokens)")
series = (("weights (apply)", 1, "#1f77b4"), ("steering", 2, "#d62728"))
for _, side, c in series:
    parts += panel.line([(p[0], p[side]["mean_length"]) for p in points], c)
parts += legend(502, 28, [(label, c) for label, _, c in series])
write(f"{out}/compare.svg", 640, 400, parts)
PYEOF
