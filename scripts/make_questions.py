#!/usr/bin/env python3
"""Writes Vane's verifiable questions: arithmetic and short word problems with exact integer answers, generated
from a fixed seed (not taken from any benchmark), in three disjoint sets:

- direction (200): items 0-59 and 120-259, what a direction is computed from;
- validation (20): items 60-79, for choosing a method, layers and scales without looking at the held-out set;
- held-out (40): items 80-119, what the shipped manifests report.

    python3 scripts/make_questions.py      # writes vectors/data/questions-{direction,validation,heldout}.jsonl

Each line: {"question": "...", "answer": N}. No question appears twice.
"""
import json
import random

rng = random.Random(20240917)
names = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Mo", "Nia", "Omar", "Pia"]
things = ["apples", "books", "coins", "pencils", "stickers", "marbles", "cookies", "stamps", "shells", "cards"]


def arithmetic():
    kind = rng.choice(["+", "-", "*"])
    if kind == "+":
        a, b = rng.randint(2, 60), rng.randint(2, 40)
        return f"What is {a} + {b}?", a + b
    if kind == "-":
        a = rng.randint(20, 90)
        b = rng.randint(2, a - 1)
        return f"What is {a} - {b}?", a - b
    a, b = rng.randint(2, 12), rng.randint(2, 9)
    return f"What is {a} times {b}?", a * b


def word_problem():
    n, t = rng.choice(names), rng.choice(things)
    kind = rng.randint(0, 3)
    if kind == 0:
        a, b = rng.randint(3, 30), rng.randint(2, 20)
        return f"{n} has {a} {t} and gets {b} more. How many {t} does {n} have now?", a + b
    if kind == 1:
        a = rng.randint(10, 40)
        b = rng.randint(2, a - 2)
        return f"{n} had {a} {t} and gave away {b}. How many {t} are left?", a - b
    if kind == 2:
        a, b = rng.randint(2, 9), rng.randint(2, 8)
        return f"There are {a} boxes with {b} {t} in each box. How many {t} are there in total?", a * b
    b = rng.randint(2, 6)
    q = rng.randint(2, 9)
    return f"{n} shares {b * q} {t} equally among {b} friends. How many {t} does each friend get?", q


seen = set()
items = []
while len(items) < 260:
    q, a = (arithmetic if len(items) % 2 == 0 else word_problem)()
    if q in seen:
        continue
    seen.add(q)
    items.append({"question": q, "answer": a})

for name, part in [("direction", items[:60] + items[120:]), ("validation", items[60:80]), ("heldout", items[80:120])]:
    with open(f"vectors/data/questions-{name}.jsonl", "w") as f:
        for it in part:
            f.write(json.dumps(it) + "\n")
