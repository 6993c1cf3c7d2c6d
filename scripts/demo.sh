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
