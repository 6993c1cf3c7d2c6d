"""Prints columns of `vane steer-eval --json` (read from standard input) as a table, numbers to 2 decimals, so
that a walkthrough's expected output does not hang on the last digits of a float.

    vane steer-eval … --json | python3 notebooks-text/steer_table.py scale mean_length accuracy mean_kl
"""
import json
import sys

columns = sys.argv[1:]
report = json.load(sys.stdin)
print("  ".join(f"{c:>14}" for c in columns))
for row in report["rows"]:
    cells = []
    for c in columns:
        v = row[c]
        cells.append(f"{v:>14.2f}" if isinstance(v, (int, float)) else f"{str(v):>14}")
    print("  ".join(cells))
rho = report["spearman_scale_mean_length"]["rho"]
print(f"Spearman(scale, mean length) = {rho:.3f}" if rho is not None else "Spearman(scale, mean length): undefined")
