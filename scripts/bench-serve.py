#!/usr/bin/env python3
"""Load on an OpenAI-compatible server: N chat requests, C at a time, greedy, each up to MAX_TOKENS tokens.

    scripts/bench-serve.py BASE_URL MODEL --concurrency C [--requests N] [--max-tokens T] [--steer JSON]

Prints one JSON line (or, with --row, a Markdown table row): total generated tokens per second of wall time (summed over requests, counted from each
answer's usage), requests per second, and latency p50/p95 in seconds (whole request, not streamed). --steer adds
Vane's per-request `steering` field, cycling through the list given (one entry per request, `null` for none).
Prompts are the held-out questions in vectors/data/questions-heldout.jsonl. Every request has a timeout (600 s)
and the number of requests is fixed: the loop is bounded.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import statistics
import time
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("base")
parser.add_argument("model")
parser.add_argument("--concurrency", type=int, required=True)
parser.add_argument("--requests", type=int, default=0, help="default: 2 × concurrency, at least 8")
parser.add_argument("--max-tokens", type=int, default=64)
parser.add_argument("--steer", default=None)
parser.add_argument("--row", default=None, help="print a Markdown table row instead, after these leading cells")
args = parser.parse_args()

here = os.path.dirname(os.path.abspath(__file__))
questions = [json.loads(line)["question"] for line in open(os.path.join(here, "..", "vectors", "data", "questions-heldout.jsonl"))]
steerings = json.loads(args.steer) if args.steer else [None]
total = args.requests or max(8, 2 * args.concurrency)
url = urllib.parse.urlparse(args.base)


def one(i):
    body = {"model": args.model, "messages": [{"role": "user", "content": questions[i % len(questions)]}],
            "max_tokens": args.max_tokens, "temperature": 0}
    steering = steerings[i % len(steerings)]
    if steering:
        body["steering"] = steering
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    start = time.monotonic()
    connection.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    elapsed = time.monotonic() - start
    connection.close()
    if response.status != 200:
        raise SystemExit(f"request {i}: HTTP {response.status}: {answer}")
    return elapsed, answer["usage"]["completion_tokens"]


start = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
    results = list(pool.map(one, range(total)))
wall = time.monotonic() - start
latencies = sorted(r[0] for r in results)
tokens = sum(r[1] for r in results)
p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
p50 = statistics.median(latencies)
if args.row:
    print(f"| {args.row} | {args.concurrency} | {tokens / wall:.1f} | {total / wall:.2f} | {p50:.2f} | {p95:.2f} | {tokens} |")
else:
    print(json.dumps({"concurrency": args.concurrency, "requests": total, "generated_tokens": tokens,
                      "tokens_per_s": round(tokens / wall, 2), "requests_per_s": round(total / wall, 3),
                      "p50_s": round(p50, 3), "p95_s": round(p95, 3), "wall_s": round(wall, 2)}))
