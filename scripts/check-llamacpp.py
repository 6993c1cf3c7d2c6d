#!/usr/bin/env python3
"""Runs Vane's files in llama.cpp and compares: the same held-out questions answered greedily by `vane generate`
and by llama.cpp's `llama-completion`, unsteered and steered with a Vane-written control vector
(`--control-vector-scaled VEC:SCALE`), or with a Vane-edited GGUF in place of the model. Prints, per scale, the
mean answer length of each (both texts counted with the same tokenizer) and how many answers are identical.

    python3 scripts/check-llamacpp.py LLAMA_BIN_DIR --vector vectors/concise-smollm2.gguf --scales 0,0.1,0.2
    python3 scripts/check-llamacpp.py LLAMA_BIN_DIR --edited /tmp/heads.gguf

LLAMA_BIN_DIR holds llama-completion (llama.cpp built with LLAMA_BUILD_TOOLS). Both sides quantize activations to
8 bits for the Q4_1 products in slightly different ways, so greedy texts can part after a near tie; lengths are
the measure, identical texts the bonus.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

parser = argparse.ArgumentParser()
parser.add_argument("llama_bin")
parser.add_argument("--vane", default=".build/release/vane")
parser.add_argument("--model", default=os.path.expanduser("~/.cache/vane/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
parser.add_argument("--vector")
parser.add_argument("--scales", default="0")
parser.add_argument("--edited", help="an edited GGUF, run by both in place of the model")
parser.add_argument("--questions", default="vectors/data/questions-heldout.jsonl")
parser.add_argument("--count", type=int, default=40)
parser.add_argument("--max-tokens", type=int, default=128)
args = parser.parse_args()

questions = [json.loads(line) for line in open(args.questions) if line.strip()][: args.count]
scales = [float(s) for s in args.scales.split(",")]
model = args.edited or args.model


def vane(*a):
    return subprocess.run([args.vane, *a], check=True, capture_output=True, text=True).stdout


def length(text):
    return len(json.loads(vane("tokenize", args.model, "--json", text))["ids"]) if text else 0


def llama(prompt, scale):
    command = [os.path.join(args.llama_bin, "llama-completion"), "-m", model, "-p", prompt, "-n", str(args.max_tokens),
               "--temp", "0", "-no-cnv", "--no-display-prompt", "-t", "2", "--no-warmup"]
    if args.vector and scale != 0:
        command += ["--control-vector-scaled", f"{args.vector}:{scale}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return out.rstrip().removesuffix("[end of text]")  # llama-completion marks the end of generation


def ours(question, scale):
    steer = ["--steer", f"{args.vector}:{scale}"] if args.vector and scale != 0 else []
    return vane("generate", model, "--chat", question, "--temperature", "0", "--max-tokens", str(args.max_tokens),
                *steer)


prompts = ["".join(json.loads(vane("tokenize", args.model, "--chat", "--json", q["question"]))["pieces"])
           for q in questions]
print(f"model: {model}" + (f", vector {args.vector}" if args.vector else ""))
print("| scale | Vane mean length | llama.cpp mean length | identical answers |")
print("|---:|---:|---:|---:|")
for scale in scales:
    a = [ours(q["question"], scale).strip() for q in questions]
    b = [llama(p, scale).strip() for p in prompts]
    same = sum(x == y for x, y in zip(a, b))
    print(f"| {scale:g} | {statistics.mean(map(length, a)):.1f} | {statistics.mean(map(length, b)):.1f} "
          f"| {same}/{len(prompts)} |")
    sys.stdout.flush()
