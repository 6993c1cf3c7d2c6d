#!/usr/bin/env bash
# `vane serve` next to llama.cpp's llama-server, same machine, same run: throughput and latency under concurrent
# chat requests. llama-server is built from the same llama-cpp-python 0.3.36 sdist as scripts/bench-vs-llamacpp.sh
# (BUILD_ONLY there builds both). For each model, each server in turn listens on loopback and
# scripts/bench-serve.py sends greedy chat requests (the held-out questions, up to MAX_TOKENS tokens) at each
# concurrency level. llama-server runs with -np 16 (16 slots, continuous batching) and cannot steer per request,
# so both run unsteered; Vane also runs steered on SmolLM2, every request with its own vector and scale from
# vectors/. Prints a Markdown table with the CPU, its SIMD flags, the date and the load average.
#
# Usage: scripts/bench-serve.sh [WORKDIR]
#   MODELS="smollm2 qwen2.5-coder-0.5b"  LEVELS="1 4 16"  THREADS=2  MAX_TOKENS=64  VANE=path
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
llama_bench=$(BUILD_ONLY=1 "$here/bench-vs-llamacpp.sh")
llama_server=$(dirname "$llama_bench")/llama-server
source "$here/bench-common.sh"
models=${MODELS:-smollm2 qwen2.5-coder-0.5b}
levels=${LEVELS:-1 4 16}
threads=${THREADS:-2}
max_tokens=${MAX_TOKENS:-64}
port=18931
for m in $models; do "$VANE" fetch "$m" >&2; done
model_file() { find "${VANE_CACHE:-$HOME/.cache/vane}/$1" -maxdepth 1 -name '*.gguf' | head -1; }

server=
stop_server() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=; }
trap stop_server EXIT
# Waits (at most 120 s) until GET /health answers 200.
wait_ready() {
    for _ in $(seq 600); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "the server on port $port did not get ready" >&2; exit 1
}
# One table row per level: "| model | server | steering | C | tok/s | req/s | p50 | p95 |".
measure() {
    local model=$1 side=$2 label=$3 id=$4 steer=${5:-}
    for c in $levels; do
        local args=("http://127.0.0.1:$port" "$id" --concurrency "$c" --max-tokens "$max_tokens")
        [ -n "$steer" ] && args+=(--steer "$steer")
        python3 "$here/bench-serve.py" "${args[@]}" --row "$model | $side | $label"
    done
}

steering='[null, [{"vector": "concise-smollm2", "scale": 0.3}], [{"vector": "efficiency-smollm2", "scale": 0.2, "layers": "8-14"}], [{"vector": "concise-smollm2", "scale": -0.15, "positions": "generated"}]]'
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); SIMD: $(grep -m1 -o -w -E 'avx512f|avx512_vnni|avx512_bf16|avx2|fma|f16c' /proc/cpuinfo | sort -u | xargs); $(date -u +%F); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | server | steering | concurrency | generated tok/s | req/s | p50 s | p95 s | tokens |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for m in $models; do
    file=$(model_file "$m")
    "$VANE" serve "$file" --port "$port" --threads "$threads" --max-batch 16 --vectors vectors 2>/dev/null &
    server=$!
    wait_ready
    id=$(curl -s "http://127.0.0.1:$port/v1/models" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][0]["id"])')
    measure "$m" vane none "$id"
    [ "$m" = smollm2 ] && measure "$m" vane "per request (4 kinds)" "$id" "$steering"
    stop_server
    "$llama_server" -m "$file" -t "$threads" -np 16 -c $((16 * 1024)) --port "$port" >/dev/null 2>&1 &
    server=$!
    wait_ready
    measure "$m" llama-server none "$(basename "$file")"
    stop_server
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
