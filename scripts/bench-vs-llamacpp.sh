#!/usr/bin/env bash
# Vane next to llama.cpp, same machine, same run: builds llama.cpp's llama-bench (and llama-server, for
# scripts/bench-serve.sh) from the source vendored in the
# PyPI sdist llama-cpp-python 0.3.36 (once, into $LLAMA_CACHE, outside the repo), then runs `llama-bench` and
# `vane bench` alternately ROUNDS times at THREADS threads on SmolLM2-135M (pp512/tg128) and Qwen2.5-Coder
# 0.5B and 1.5B (pp256/tg64), and prints a Markdown table of medians with the CPU, its SIMD flags, the date and
# the load average; then the contention table of scripts/bench-contention.sh (CONTENTION=0 skips it).
#
# With OLD=path/to/older/vane, that binary runs in each round too (a before/after column in the same run).
#
# Usage: scripts/bench-vs-llamacpp.sh [WORKDIR]
#   ROUNDS=N (default 3)  THREADS=N (default 2)  MODELS="smollm2 qwen2.5-coder-0.5b qwen2.5-coder-1.5b"
#   VANE=path (skip the build)  OLD=path  CONTENTION=0  BUILD_ONLY=1
#   LLAMA_CACHE=dir (default ~/.cache/vane/llama.cpp-0.3.36)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${LLAMA_CACHE:-$HOME/.cache/vane/llama.cpp-0.3.36}
llama_bench=$cache/build/bin/llama-bench
llama_server=$cache/build/bin/llama-server

# llama.cpp as the issue's comparison used it: native SIMD, AMX off (-mno-amx-* keeps it building on compilers that
# would otherwise enable AMX for -march=native on hosts that report it), only the llama-bench and llama-server targets.
build_llama() {
    mkdir -p "$cache"
    if ! "$cache/venv/bin/python3" -c "import cmake, scikit_build_core" 2>/dev/null; then
        python3 -m venv "$cache/venv"
        "$cache/venv/bin/pip" install --quiet cmake scikit-build-core
    fi
    if [ ! -d "$cache/src" ]; then
        # --no-build-isolation: reading the sdist's metadata then uses the venv's scikit-build-core instead of
        # building cmake and ninja from source.
        "$cache/venv/bin/pip" download --quiet --no-deps --no-binary :all: --no-build-isolation \
            llama-cpp-python==0.3.36 -d "$cache/sdist"
        mkdir -p "$cache/src.tmp"
        tar -xzf "$cache"/sdist/llama_cpp_python-0.3.36.tar.gz -C "$cache/src.tmp" --strip-components=1
        mv "$cache/src.tmp" "$cache/src"
    fi
    local flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    "$cache/venv/bin/cmake" -S "$cache/src/vendor/llama.cpp" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release \
        -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
        -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" >&2
    "$cache/venv/bin/cmake" --build "$cache/build" --target llama-bench llama-server -j "$(nproc)" >&2
}
[ -x "$llama_bench" ] && [ -x "$llama_server" ] || build_llama
[ -n "${BUILD_ONLY:-}" ] && { echo "$llama_bench"; exit 0; }

source "$here/bench-common.sh"
rounds=${ROUNDS:-3}
threads=${THREADS:-2}
models=${MODELS:-smollm2 qwen2.5-coder-0.5b qwen2.5-coder-1.5b}
for m in $models; do "$VANE" fetch "$m" >&2; done
model_file() { find "${VANE_CACHE:-$HOME/.cache/vane}/$1" -maxdepth 1 -name '*.gguf' | head -1; }
sizes() { [ "$1" = smollm2 ] && echo "512 128" || echo "256 64"; }
bins=(NEW)
[ -n "${OLD:-}" ] && bins=(OLD NEW)
declare -A path=([NEW]=$VANE [OLD]=${OLD:-})

# One measurement of each: "SIDE MODEL pp|tg TOKENS_PER_S" lines.
run_llama() {
    local m=$1 pp=$2 tg=$3
    "$llama_bench" -m "$(model_file "$m")" -t "$threads" -p "$pp" -n "$tg" -r 1 -o json 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print("LLAMA", sys.argv[1], "pp" if r["n_gen"] == 0 else "tg", r["avg_ts"])
print("COMMIT", r["build_commit"], file=sys.stderr)' "$m" 2>"$work/llama-commit.txt"
}
run_vane() {
    local bin=$1 m=$2 pp=$3 tg=$4
    "${path[$bin]}" bench "$m" --threads "$threads" --prompt-tokens "$pp" --gen-tokens "$tg" --repetitions 1 --json 2>/dev/null |
        tee "$work/vane-$bin.json" |
        sed -n "s/.*\"pp_tokens_per_s\": *\([0-9.]*\).*\"tg_tokens_per_s\": *\([0-9.]*\).*/$bin $m pp \1\n$bin $m tg \2/p"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: > "$work/side.txt"
for round in $(seq "$rounds"); do
    for m in $models; do
        read -r pp tg < <(sizes "$m")
        # Alternate which side goes first, so that neither always runs on a cooler or hotter machine.
        if [ $((round % 2)) = 1 ]; then run_llama "$m" "$pp" "$tg" >> "$work/side.txt"; fi
        for bin in "${bins[@]}"; do run_vane "$bin" "$m" "$pp" "$tg" >> "$work/side.txt"; done
        if [ $((round % 2)) = 0 ]; then run_llama "$m" "$pp" "$tg" >> "$work/side.txt"; fi
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx|fma|f16c|amx|sse4_2$)' | sort | paste -sd' ' -)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $cpu, $(nproc) cores (flags: $flags), load average $load_before before and"
echo "$load_after after. $threads threads, median of $rounds alternating runs (min–max in brackets). Vane $commit,"
echo "llama.cpp $(sed -n 's/COMMIT //p' "$work/llama-commit.txt") (llama-cpp-python 0.3.36 sdist, GGML_NATIVE, AMX off);"
echo "Vane's kernels: $(sed -n 's/.*"kernels": *"\([^"]*\)".*"blas_core": *"\([^"]*\)".*/\1, OpenBLAS \2/p' "$work/vane-NEW.json") (this build)."
echo
header="| model | test | llama.cpp |"; rule="| --- | --- | ---: |"
for bin in "${bins[@]}"; do header="$header Vane ${bin,,} | Vane ${bin,,} / llama.cpp |"; rule="$rule ---: | ---: |"; done
[ "${#bins[@]}" = 2 ] && header=${header//Vane new/Vane (this build)} && header=${header//Vane old/Vane (OLD)}
echo "$header"; echo "$rule"
for m in $models; do
    read -r pp tg < <(sizes "$m")
    for test in pp tg; do
        awk -v m="$m" -v test="$test" -v n="$([ $test = pp ] && echo "$pp" || echo "$tg")" -v bins="${bins[*]}" '
            $2 == m && $3 == test { v[$1] = v[$1] " " $4 }
            function sorted(s, a,   k, i, j, x) { k = split(s, a, " "); for (i = 2; i <= k; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > x + 0; j--) a[j + 1] = a[j]; a[j + 1] = x } return k }
            function median(s,   a, k) { k = sorted(s, a); return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
            function cell(s,   a, k) { k = sorted(s, a); return sprintf("%.1f (%.1f–%.1f)", median(s), a[1], a[k]) }
            END { base = median(v["LLAMA"]); printf "| %s | %s%d | %s |", m, test, n, cell(v["LLAMA"])
                  split(bins, b, " "); for (i = 1; i in b; i++) printf " %s | %.2f× |", cell(v[b[i]]), median(v[b[i]]) / base
                  print "" }' "$work/side.txt"
    done
done
if [ "${CONTENTION:-1}" != 0 ]; then
    echo
    VANE=$VANE OLD=${OLD:-} "$here/bench-contention.sh" "$work"
fi
