#!/usr/bin/env bash
# Batched decoding: steer-eval over 16 held-out questions × 5 scales (≤ 48 tokens each, 80 generations) at
# --batch 1, 4 and 16, interleaved with `vane bench` (tg128, one sequence) on the same model, ROUNDS times; with
# BASELINE=another vane binary, that binary's runs are interleaved with this one's in every round.
# Prints a Markdown table of medians per binary: generated tokens/s of each batch size and its ratio to `vane bench`
# tg of the same binary. Also checks that every batch size (and the baseline) prints the same steer-eval report
# and texts.
#
# Usage: scripts/bench-batch.sh [WORKDIR]   (MODEL=name or path, default smollm2; ROUNDS=N, default 3;
#                                            VANE=… to skip the build; BASELINE=…; THREADS=N, default all cores;
#                                            QUESTIONS=N, default 16, for a quicker run)
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
model=${MODEL:-smollm2}
rounds=${ROUNDS:-3}
threads=${THREADS:-$(nproc)}
[ "$model" = smollm2 ] || "$VANE" fetch "$model" >&2 || true
head -n "${QUESTIONS:-16}" vectors/data/questions-heldout.jsonl > "$work/questions.jsonl"
vector=vectors/efficiency-smollm2.gguf
case "$model" in
    smollm2) steer=(--steer "$vector") ;;
    # The shipped vectors fit SmolLM2 only: for another model, its own concise-minus-verbose mean difference.
    *) steer=(--steer "$work/direction.gguf")
       if [ ! -f "$work/direction.gguf" ]; then
           "$VANE" extract "$model" vectors/data/concise-verbose-pairs.jsonl --hooks 'blocks.*.hook_resid_post' \
               --positions mean -o "$work/pairs.h5" >&2
           "$VANE" vector compute "$work/pairs.h5" --method mean-diff -o "$work/direction.gguf" >&2
       fi ;;
esac
binaries=("$VANE")
[ -z "${BASELINE:-}" ] || binaries+=("$BASELINE")
eval_rate() {  # binary, batch → generated tokens/s (from steer-eval's closing note); keeps the report for the check
    "$1" steer-eval "$model" "$work/questions.jsonl" "${steer[@]}" --sweep -0.2:0.2:0.1 --max-tokens 48 \
        --batch "$2" --threads "$threads" --json --texts "$work/texts-$2.jsonl" > "$work/report-$2.json" 2> "$work/note-$2.txt"
    sed -n 's/.*generation: [0-9]* tokens in [0-9.]* s, \([0-9.]*\) tokens\/s.*/\1/p' "$work/note-$2.txt"
}
tg() { "$1" bench "$model" --prompt-tokens 8 --threads "$threads" --json 2>/dev/null | sed 's/.*"tg_tokens_per_s": *\([0-9.]*\).*/\1/'; }
: > "$work/batch.txt"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$rounds"); do
    for i in "${!binaries[@]}"; do
        bin=${binaries[$i]}
        echo "$i tg $(tg "$bin")" >> "$work/batch.txt"
        for b in 1 4 16; do
            echo "$i b$b $(eval_rate "$bin" "$b")" >> "$work/batch.txt"
            [ -f "$work/first-report.json" ] || { cp "$work/report-$b.json" "$work/first-report.json"; cp "$work/texts-$b.jsonl" "$work/first-texts.jsonl"; }
            cmp -s "$work/first-report.json" "$work/report-$b.json" && cmp -s "$work/first-texts.jsonl" "$work/texts-$b.jsonl" \
                || { echo "$bin steer-eval --batch $b printed a different report or texts than the first run" >&2; exit 1; }
        done
    done
done
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|fma|f16c|avx512f|avx512bw|avx512_vnni|avx512_bf16|avx_vnni' | paste -sd' ' -)
echo "Machine: $cpu, $(nproc) cores ($flags), $threads threads; load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Model $model, $(wc -l < "$work/questions.jsonl") questions × 5 scales; median of $rounds rounds; in brackets the ratio to \`vane bench\` tg128 of the same binary."
echo
echo "| binary | vane bench tg128 | steer-eval --batch 1 | --batch 4 | --batch 16 |"
echo "| --- | ---: | ---: | ---: | ---: |"
for i in "${!binaries[@]}"; do
    awk -v bin="${binaries[$i]}" -v i="$i" '
        $1 == i { v[$2] = v[$2] " " $3 }
        function median(s,   a, n, k, j, x) { n = split(s, a, " "); for (k = 2; k <= n; k++) { x = a[k]; for (j = k - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                                            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        END { tg = median(v["tg"]); printf "| %s | %.1f |", bin, tg
              split("b1 b4 b16", keys, " ")
              for (k = 1; k <= 3; k++) { m = median(v[keys[k]]); printf " %.1f (%.2f×) |", m, m / tg }
              print "" }' "$work/batch.txt"
done
