#!/usr/bin/env bash
# Decoding next to another busy process: `vane bench` generation speed (tg128 on SmolLM2) at 1 thread and at the
# default thread count, on an idle machine and with one competing busy loop, ROUNDS times interleaved. With
# OLD=path/to/vane, the same measurements of that binary alternate with this one's, in the same run.
# Prints a Markdown table of medians and each column's ratio to the idle 1-thread speed.
#
# Usage: scripts/bench-contention.sh [WORKDIR]      (ROUNDS=N, default 3; VANE=… to skip the build; OLD=…)
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
rounds=${ROUNDS:-3}
threads=$(nproc)
tg() { "$1" bench smollm2 --threads "$2" --json 2>/dev/null | sed 's/.*"tg_tokens_per_s": *\([0-9.]*\).*/\1/'; }
bins=(NEW)
[ -n "${OLD:-}" ] && bins=(OLD NEW)
declare -A path=([NEW]=$VANE [OLD]=${OLD:-})
: > "$work/contention.txt"
for _ in $(seq "$rounds"); do
    for bin in "${bins[@]}"; do
        b=${path[$bin]}
        echo "$bin idle 1 $(tg "$b" 1)" >> "$work/contention.txt"
        echo "$bin idle $threads $(tg "$b" "$threads")" >> "$work/contention.txt"
        ( while :; do :; done ) & busy=$!
        sleep 0.5
        echo "$bin busy 1 $(tg "$b" 1)" >> "$work/contention.txt"
        echo "$bin busy $threads $(tg "$b" "$threads")" >> "$work/contention.txt"
        kill "$busy"; wait "$busy" 2>/dev/null || true
    done
done
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|fma|f16c|avx512f|avx512bw|avx512_vnni|avx512_bf16' | paste -sd' ' -)
echo "Machine: $cpu, $threads cores ($flags). tg128 tokens/s, median of $rounds; in brackets the ratio to the same binary's idle 1-thread speed."
echo
echo "| binary | idle, 1 thread | idle, $threads threads | 1 busy process, 1 thread | 1 busy process, $threads threads |"
echo "| --- | ---: | ---: | ---: | ---: |"
for bin in "${bins[@]}"; do
    awk -v bin="$bin" -v t="$threads" -v label="${path[$bin]}" '
        $1 == bin { v[$2 " " $3] = v[$2 " " $3] " " $4 }
        function median(s,   a, n, i, j, x) { n = split(s, a, " "); for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                                            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        END { base = median(v["idle 1"]); printf "| %s |", label
              split("idle 1,idle " t ",busy 1,busy " t, keys, ",")
              for (k = 1; k <= 4; k++) { m = median(v[keys[k]]); printf " %.1f (%.2f×) |", m, m / base }
              print "" }' "$work/contention.txt"
done
