#!/usr/bin/env bash
# In-process fuzzing with libFuzzer: scripts/fuzz.sh DURATION [TARGET…] runs each target (all by default) for
# DURATION seconds, starting from Tests/Fuzz/<target>/{seeds,regressions} and a working corpus kept in
# $VANE_FUZZ_DIR (default ${VANE_CACHE:-~/.cache/vane}/fuzz). Prints per target the inputs run, the coverage and
# the findings; a crash, hang or out-of-memory input is saved there and makes the script exit 1.
# VANE_FUZZ_SKIP_OPEN=1 (CI) skips targets with inputs in Tests/Fuzz/<target>/open: they would only find again
# the bug RELIABILITY.md already lists.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:?usage: scripts/fuzz.sh DURATION [TARGET…]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf safetensors config tokenizer template jsonl merge-yaml hdf5 vector)
work=${VANE_FUZZ_DIR:-${VANE_CACHE:-$HOME/.cache/vane}/fuzz}

# gold cannot link the fuzzer runtime into Swift code; lld can.
swift build -c release --scratch-path .build-fuzz --product vane-fuzz \
    -Xswiftc -sanitize=fuzzer -Xswiftc -use-ld=lld -Xswiftc -DVANE_LIBFUZZER
binary=.build-fuzz/release/vane-fuzz

failed=0
for target in "${targets[@]}"; do
    if [ "${VANE_FUZZ_SKIP_OPEN:-0}" = 1 ] && [ -n "$(ls -A "Tests/Fuzz/$target/open" 2>/dev/null)" ]; then
        echo "$target: skipped, open findings in Tests/Fuzz/$target/open"
        continue
    fi
    corpus=$work/$target/corpus findings=$work/$target/findings
    mkdir -p "$corpus" "$findings"
    log=$work/$target/last.log
    before=$(ls "$findings" | wc -l)
    seeds=()
    for kind in seeds regressions; do [ -d "Tests/Fuzz/$target/$kind" ] && seeds+=("Tests/Fuzz/$target/$kind"); done
    # Swift's backtracer would take the crash signal before libFuzzer could save the input.
    SWIFT_BACKTRACE=enable=no "$binary" "$target" "$corpus" "${seeds[@]}" -max_total_time="$duration" \
        -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" \
        -close_fd_mask=1 >"$log" 2>&1 || true
    final() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
    coverage=$(grep -ao 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -1)
    new=$(ls "$findings" | wc -l)
    printf '%-12s %10s runs %6s exec/s  %s\n' "$target" "$(final number_of_executed_units)" \
        "$(final average_exec_per_sec)" "$coverage"
    if [ "$new" -gt "$before" ] || grep -aq 'ERROR: libFuzzer\|==ERROR\|SUMMARY: libFuzzer' "$log"; then
        failed=1
        echo "  FINDING (log $log):"
        grep -a -m3 'Fatal error\|ERROR: libFuzzer\|SUMMARY' "$log" | sed 's/^/    /'
        ls -t "$findings" | head -5 | sed "s|^|    $findings/|"
    fi
done
exit $failed
