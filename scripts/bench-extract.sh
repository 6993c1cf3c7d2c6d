#!/usr/bin/env bash
# Extraction speed against a plain forward pass (BENCHMARKS.md, "Activation extraction").
#
# Generates 512 prompts of about 64 tokens (60 words; deterministic: a fixed seed), then over SmolLM2 extracts all
# 30 blocks.*.hook_resid_post at mean positions, batch 32, to HDF5 with --compare-forward: each example also runs
# once as a plain forward call (no hooks, no file) just before its extraction, timed apart, so both speeds are
# measured under the same load (this machine is shared). Then once more with --compress, for the file size.
# Prints tokens/s of both, their ratio, and both file sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
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
        while len(words) < 60:
            words += f"{random.choice(subjects)} {random.choice(verbs)} {random.choice(objects)} {random.choice(tails)}.".split()
        out.write(json.dumps({"prompt": " ".join(words[:60]), "label": i % 2}) + "\n")
PY

extra=()
[ -n "$threads" ] && extra=(--threads "$threads")
hooks=(--hooks 'blocks.*.hook_resid_post' --positions mean --batch 32 "${extra[@]}")
out=$($vane extract smollm2 "$work/prompts.jsonl" "${hooks[@]}" --compare-forward -o "$work/acts.h5" 2>&1)
echo "$out" >&2
$vane extract smollm2 "$work/prompts.jsonl" "${hooks[@]}" --compress -o "$work/acts-deflate.h5" >&2
tokens=$($vane store info "$work/acts.h5" | sed -n 's/^tokens *\([0-9]*\).*/\1/p')
size() { stat -c %s "$1"; }
echo
echo "prompts: 512, tokens: $tokens (mean $(python3 -c "print(round($tokens/512, 1))") per prompt)"
echo "$out" | sed -n 's/.*: \([0-9.]*\) tok\/s → .*/extract (30 hooks, mean): \1 tok\/s/p'
echo "$out" | sed -n 's/plain forward.*: \([0-9.]*\) tok\/s; extraction\/forward \([0-9.]*\)/plain forward:           \1 tok\/s\nratio extract\/forward:   \2/p'
echo "file size uncompressed:  $(size "$work/acts.h5") bytes"
echo "file size deflate 4:     $(size "$work/acts-deflate.h5") bytes"
