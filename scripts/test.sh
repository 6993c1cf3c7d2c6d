#!/usr/bin/env bash
# The test suite, from a fresh machine: system packages, the default model (the SmolLM2 tests need it), then
# `swift test` in release (the model tests are numeric; a debug build is 10-100× slower).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product vane
.build/release/vane fetch smollm2
swift test -c release -Xswiftc -enable-testing "$@"
