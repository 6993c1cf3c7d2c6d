#!/usr/bin/env bash
# Extraction speed against a plain forward pass (BENCHMARKS.md, "Activation extraction").
#
# Generates 512 prompts of about 64 tokens (deterministic: a fixed seed), then over SmolLM2 runs, alternating for
# ROUNDS rounds (default 2) and keeping each one's best:
#   forward   `vane extract --forward-only`: the same forward calls, no hooks, no file
#   extract   all 30 blocks.*.hook_resid_post at mean positions, batch 32, to HDF5
# and once more with --compress, and prints tokens/s, their ratio, and both file sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-2}
threads=${THREADS:-}
vane=.build/release/vane
[ -x "$vane" ] || swift build -c release --product vane
$vane fetch smollm2 >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/prompts.jsonl" <<'PY'
import json, random, sys
random.seed(20240905)
subjects = ["The engineer", "A small robot", "My neighbour", "The committee", "An old sailor", "The student",
            "A curious cat", "The pilot", "Our teacher", "The baker"]
verbs = ["explained", "questioned", "described", "measured", "repaired", "painted", "counted", "forgot", "studied"]
objects = ["the bridge over the river", "seventeen blue bottles", "a theory of heat", "the broken clock",
           "the price of bread", "a map of the northern coast", "the last train home", "three quiet gardens"]
tails = ["before the storm arrived", "while everyone else was sleeping", "with great care and patience",
         "for reasons nobody understood", "in less than an hour", "as the sun went down behind the hills"]
with open(sys.argv[1], "w") as out:
    for i in range(512):
        words = []
        while len(words) < 50:
            words += f"{random.choice(subjects)} {random.choice(verbs)} {random.choice(objects)} {random.choice(tails)}.".split()
        out.write(json.dumps({"prompt": " ".join(words[:50]), "label": i % 2}) + "\n")
PY

extra=()
[ -n "$threads" ] && extra=(--threads "$threads")
rate() { sed -n 's/.*: \([0-9.]*\) tok\/s.*/\1/p'; }
best_forward=0
best_extract=0
for round in $(seq "$rounds"); do
    f=$($vane extract smollm2 "$work/prompts.jsonl" --forward-only "${extra[@]}" | tee /dev/stderr | rate)
    e=$($vane extract smollm2 "$work/prompts.jsonl" --hooks 'blocks.*.hook_resid_post' --positions mean \
        --batch 32 "${extra[@]}" -o "$work/acts.h5" | tee /dev/stderr | rate)
    best_forward=$(python3 -c "print(max($best_forward, $f))")
    best_extract=$(python3 -c "print(max($best_extract, $e))")
    [ "$round" = "$rounds" ] || rm -f "$work/acts.h5"
done
$vane extract smollm2 "$work/prompts.jsonl" --hooks 'blocks.*.hook_resid_post' --positions mean --batch 32 \
    --compress "${extra[@]}" -o "$work/acts-deflate.h5" >&2
tokens=$($vane store info "$work/acts.h5" | sed -n 's/^tokens *\([0-9]*\).*/\1/p')
size() { stat -c %s "$1"; }
echo
echo "prompts: 512, tokens: $tokens (mean $(python3 -c "print(round($tokens/512, 1))") per prompt), best of $rounds rounds"
echo "forward only:            $best_forward tok/s"
echo "extract (30 hooks, mean): $best_extract tok/s"
python3 -c "print(f'ratio extract/forward:    {$best_extract/$best_forward:.3f}')"
echo "file size uncompressed:  $(size "$work/acts.h5") bytes"
echo "file size deflate 4:     $(size "$work/acts-deflate.h5") bytes"
