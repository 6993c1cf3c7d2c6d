#!/usr/bin/env bash
# Rebuilds the vectors shipped in vectors/ for the default model, with the commands their manifests record.
# Takes about two hours on 2 cores (most of it sampling and steer-eval generation).
set -euo pipefail
cd "$(dirname "$0")/.."
vane=.build/release/vane
python3 scripts/make_questions.py
python3 scripts/make_pairs.py

# Efficiency direction: the model's own shortest vs longest correct answers (store: vectors/efficiency-smollm2.h5,
# samples: vectors/efficiency-smollm2.samples.jsonl). The method is chosen on the validation questions
# (select-efficiency.sh: mean-diff, pca-diff and probe at layers 6-18, scales -0.3 … 0.3), then measured once on the
# held-out questions over the range where the chosen vector was monotone on validation.
$vane recipe efficiency smollm2 vectors/data/questions-direction.jsonl -o vectors/efficiency-smollm2.gguf \
  --samples 6 --max-tokens 160 --temperature 0.4
VANE=$vane scripts/select-efficiency.sh
$vane vector compute vectors/efficiency-smollm2.h5 --method pca-diff --layers 6-18 -o vectors/efficiency-smollm2.gguf
$vane vector score vectors/efficiency-smollm2.h5 vectors/efficiency-smollm2.gguf --plot vectors/efficiency-smollm2.scores.svg
$vane steer-eval smollm2 vectors/data/questions-heldout.jsonl --steer vectors/efficiency-smollm2.gguf \
  --sweep=-0.2:0.2:0.05 --max-tokens 128 --json --plot vectors/efficiency-smollm2.steer-eval.svg

# Concise vs verbose instructions: contrastive pairs of system prompts, last prompt token, mean-diff at layers 6-18.
$vane extract smollm2 vectors/data/concise-verbose-pairs.jsonl --hooks 'blocks.*.hook_resid_post' --positions last \
  -o vectors/concise-smollm2.h5
$vane vector compute vectors/concise-smollm2.h5 --method mean-diff --layers 6-18 -o vectors/concise-smollm2.gguf
$vane vector score vectors/concise-smollm2.h5 vectors/concise-smollm2.gguf --plot vectors/concise-smollm2.scores.svg
$vane steer-eval smollm2 vectors/data/questions-heldout.jsonl --steer vectors/concise-smollm2.gguf \
  --sweep=-0.3:0.3:0.1 --max-tokens 128 --json --plot vectors/concise-smollm2.steer-eval.svg
