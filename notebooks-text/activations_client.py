"""Activations from `vane serve` into numpy: the walkthrough 02-serve-activations.md runs this file.

Starts `vane serve smollm2` on a free loopback port, asks POST /v1/activations for two hook points, decodes the
base64 float32 data with numpy, and checks it against `vane trace` of the same text (read from its safetensors
output with numpy alone). Then stops the server with SIGTERM.
"""
import base64
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import urllib.request

import numpy as np

TEXT = "The quick brown fox jumps over the lazy dog."
HOOKS = ["blocks.6.hook_resid_post", "blocks.6.attn.hook_result"]


def activations(base, **request):
    body = json.dumps(request).encode()
    req = urllib.request.Request(base + "/v1/activations", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as response:
        answer = json.load(response)
    return answer["tokens"], {a["hook"]: np.frombuffer(base64.b64decode(a["data"]), dtype="<f4").reshape(a["shape"])
                              for a in answer["activations"]}


def read_safetensors(path):
    """A safetensors file: 8-byte little-endian header length, a JSON header, then the raw tensors."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    return {name: np.frombuffer(data[t["data_offsets"][0]:t["data_offsets"][1]], dtype="<f4").reshape(t["shape"])
            for name, t in header.items() if name != "__metadata__"}


server = subprocess.Popen(["vane", "serve", "smollm2", "--port", "0"], stderr=subprocess.PIPE, text=True)
try:
    base = None
    for line in server.stderr:  # the server's first line names its address
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        if match:
            base = match.group(0)
            break
    if base is None:
        sys.exit("vane serve did not start")

    tokens, acts = activations(base, input=TEXT, hooks=HOOKS, positions="all")
    for hook in HOOKS:
        print(hook, acts[hook].shape, acts[hook].dtype)
    # The same hooks: capturing attn.hook_result sums o_proj head by head, which can move the last bit of resid_post.
    _, last = activations(base, input=TEXT, hooks=HOOKS, positions="last")
    print("last position equals the last row of all:", bool(np.array_equal(last[HOOKS[0]][0], acts[HOOKS[0]][-1])))

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "trace.safetensors")
        subprocess.run(["vane", "trace", "smollm2", "--prompt", TEXT, "--hooks", *HOOKS, "-o", path],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        trace = read_safetensors(path)
    worst = max(float(np.abs(acts[h] - trace[h]).max()) for h in HOOKS)
    print(f"{len(tokens)} tokens; largest difference from vane trace: {worst:.1e}")
finally:
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
