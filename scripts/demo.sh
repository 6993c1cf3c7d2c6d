#!/usr/bin/env bash
# Everything from a fresh Debian/Ubuntu machine with Swift: system packages, release build, the default model,
# then the main job on it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product vane
vane=.build/release/vane
$vane fetch smollm2
echo "== vane generate smollm2 (greedy)"
$vane generate smollm2 --chat "Give me three tips for writing clear code." --temperature 0 --max-tokens 96
echo "== vane trace smollm2"
$vane trace smollm2 --prompt "The capital of France is" --hooks 'blocks.*.hook_resid_post' -o /tmp/vane-trace.safetensors
echo "== vane generate smollm2, unsteered and steered with vectors/efficiency-smollm2.gguf (greedy; tokens generated)"
steer=vectors/efficiency-smollm2.gguf:0.1
questions=(
  "What is 17 + 25?"
  "Mo has 14 stickers and gets 9 more. How many stickers does Mo have now?"
  "There are 4 boxes with 6 pencils in each box. How many pencils are there in total?"
  "What is 9 times 7?"
)
length() {  # tokens generated, from generate's statistics line on stderr
  "$vane" generate smollm2 --chat "$1" --temperature 0 --max-tokens 160 "${@:2}" 2>&1 >/dev/null | sed -n 's/.*; \([0-9]*\) generated.*/\1/p'
}
printf '%-84s %10s %8s\n' question unsteered steered
for q in "${questions[@]}"; do
  printf '%-84s %10s %8s\n' "$q" "$(length "$q")" "$(length "$q" --steer "$steer")"
done
