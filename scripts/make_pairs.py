#!/usr/bin/env python3
"""Writes vectors/data/concise-verbose-pairs.jsonl: contrastive pairs for `vane extract`, the first 60
questions of the direction set and 20 open questions under a "be brief" (positive) and a "be detailed" (negative) system prompt.

    python3 scripts/make_pairs.py      # after scripts/make_questions.py
"""
import json
qs=[json.loads(l)["question"] for l in open("vectors/data/questions-direction.jsonl")][:60]
extra=["Why is the sky blue?","How do plants make food?","What is a prime number?","Why do we have seasons?","How does a bicycle stay upright?",
"What causes rain?","How do magnets work?","What is gravity?","Why do cats purr?","How does the heart pump blood?",
"What is photosynthesis?","Why is exercise healthy?","How do airplanes fly?","What is an atom?","Why does ice float?",
"How do vaccines work?","What is a fraction?","Why do leaves change color?","How do computers store numbers?","What is the water cycle?"]
concise="Answer as briefly as possible: give only the final answer, in a few words."
verbose="Answer at length: explain every step in detail, with background, examples and a summary."
with open("vectors/data/concise-verbose-pairs.jsonl","w") as f:
    for q in qs+extra:
        f.write(json.dumps({"positive":{"messages":[{"role":"system","content":concise},{"role":"user","content":q}]},
                            "negative":{"messages":[{"role":"system","content":verbose},{"role":"user","content":q}]}})+"\n")
