"""SEAL's keyword rules, written independently of Vane: split each trace at the separator and label every thought
that a separator ends. transition if it contains (case-insensitively) a transition keyword, else reflection if it
contains a reflection keyword, else execution.

    python3 seal_labels.py TRACES.jsonl [SEPARATOR]   →  JSON: [[trace, thought, label, text], ...]
"""
import json
import sys

REFLECTION = ["wait", "verify", "make sure", "hold on", "think again", "'s correct", "'s incorrect", "let me check",
              "seems right"]
TRANSITION = ["alternatively", "think differently", "another way", "another approach", "another method",
              "another solution", "another strategy", "another technique"]

separator = sys.argv[2] if len(sys.argv) > 2 else "\n\n"
out = []
for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    text = json.loads(line)["text"]
    thoughts = text.split(separator)[:-1]  # the part after the last separator ends at no separator
    for k, thought in enumerate(thoughts):
        low = thought.lower()
        if any(w in low for w in TRANSITION):
            label = "transition"
        elif any(w in low for w in REFLECTION):
            label = "reflection"
        else:
            label = "execution"
        out.append([i, k, label, thought])
print(json.dumps(out))
