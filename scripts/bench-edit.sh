#!/usr/bin/env bash
# Baked edits on the default model: time `vane edit heads`, `edit ablate` and `edit add` (each writes a full GGUF;
# untouched tensors are copied byte for byte), then check each file loads in Vane (`vane inspect`, a short greedy
# generation) and, where llama.cpp is installed (llama-completion on PATH, or LLAMA_COMPLETION=path), that
# llama.cpp loads and runs it too. The direction is the efficiency vector shipped in vectors/ when present, else one
# computed from a tiny contrastive store.
#
# Usage: scripts/bench-edit.sh [WORKDIR] [VECTOR.gguf]     (VANE=path/to/vane to use another binary)
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"

vector=${2:-}
if [ -z "$vector" ]; then
    cat > "$work/pairs.jsonl" <<'JSONL'
{"positive": "Answer in one word: yes.", "negative": "Please explain at great length, step by step, with every detail."}
{"positive": "Be brief.", "negative": "Write a long, thorough and detailed answer."}
{"positive": "Short answer only.", "negative": "Elaborate extensively on every point you make."}
JSONL
    "$VANE" extract smollm2 "$work/pairs.jsonl" --hooks 'blocks.*.hook_resid_post' --positions mean -o "$work/pairs.h5" >&2
    "$VANE" vector compute "$work/pairs.h5" --method mean-diff -o "$work/vector.gguf" >&2
    vector=$work/vector.gguf
fi

run() {
    local name=$1; shift
    /usr/bin/time -f "$name: %e s, peak RSS %M KB" "$VANE" "$@"
}
run "edit heads" edit heads smollm2 --direction "$vector" --heads 10.1,12.4,20.7 -o "$work/heads.gguf"
run "edit ablate" edit ablate smollm2 --direction "$vector" --layers 8-20 -o "$work/ablate.gguf"
run "edit add" edit add smollm2 --vector "$vector:-0.5" --layers 10-14 -o "$work/add.gguf"

llama=${LLAMA_COMPLETION:-$(command -v llama-completion || true)}
for f in heads ablate add; do
    "$VANE" inspect "$work/$f.gguf" | grep -E '^(tensors|vane.edit.recipe)'
    "$VANE" generate "$work/$f.gguf" --chat "What is 7 times 6?" --temperature 0 --max-tokens 24
    if [ -n "$llama" ]; then
        "$llama" -m "$work/$f.gguf" -p "What is 7 times 6?" -n 24 --temp 0 -no-cnv 2>/dev/null && echo "llama.cpp ran $f.gguf"
    fi
done
[ -n "$llama" ] || echo "llama.cpp not found (set LLAMA_COMPLETION): skipped running the edited files in llama.cpp"
