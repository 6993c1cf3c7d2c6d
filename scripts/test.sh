#!/usr/bin/env bash
# The test suite, from a fresh machine: system packages, the default model (the SmolLM2 tests need it), then
# `swift test` in release (the model tests are numeric; a debug build is 10-100× slower).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product vane
.build/release/vane fetch smollm2
# h5py reads Vane's HDF5 stores in the activation tests (skipped, with a message, when it cannot be installed).
python3 -c 'import h5py, numpy' 2>/dev/null || python3 -m pip install --quiet h5py numpy \
    || python3 -m pip install --quiet --break-system-packages h5py numpy \
    || echo "h5py unavailable: the h5py store checks will be skipped"
swift test -c release -Xswiftc -enable-testing "$@"
