import Foundation
import Testing
import VaneTestSupport

/// Stores written by the `vane` binary, read by h5py: the documented layout (shapes, dtypes, attributes), and
/// values bit-identical to `vane trace` over the same text (its safetensors output, parsed by numpy).
@Suite(.enabled(if: VaneProcess.hasH5py, "python3 with h5py and numpy is not available (pip install h5py numpy)"))
struct H5pyTests {
    static let script = #"""
import json, sys
import h5py, numpy as np

def safetensors(path):
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__": continue
        a, b = info["data_offsets"]
        assert info["dtype"] == "F32", info
        out[name] = np.frombuffer(raw[8 + n + a: 8 + n + b], dtype="<f4").reshape(info["shape"])
    return out

folder, n = sys.argv[1], int(sys.argv[2])
hooks = ["blocks.0.hook_resid_post", "blocks.1.attn.hook_result", "blocks.1.hook_resid_post", "blocks.2.hook_resid_post"]
traces = [safetensors(f"{folder}/trace{i}.safetensors") for i in range(n)]
errors = []
def check(cond, what):
    if not cond: errors.append(what)
def same_bits(a, b, what):
    check(a.dtype == np.float32 and a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32)),
          f"{what}: {a.dtype} {a.shape} vs {b.shape}, max |d| {np.abs(a.astype(np.float64) - b).max() if a.shape == b.shape else '-'}")

for mode in ["all", "last"]:
    with h5py.File(f"{folder}/{mode}.h5", "r") as f:
        a = f.attrs
        check(a["format"] == "vane.activations" and a["format_version"] == 1, f"{mode}: format attributes")
        check(a["positions"] == mode and list(a["hooks"]) == hooks, f"{mode}: positions/hooks {a['positions']} {list(a['hooks'])}")
        check(a["n_examples"] == n and a["tool"] == "extract", f"{mode}: n_examples {a['n_examples']}")
        check(len(a["model_sha256"]) == 64 and list(a["dims"]) == [64, 3, 4, 2, 16, 384], f"{mode}: model attrs {list(a['dims'])}")
        for key in ["model_path", "tokenizer", "chat_template", "span", "skip_first", "command_line", "vane_version", "created", "input_sha256"]:
            check(key in a, f"{mode}: attribute {key} missing")
        e = f["examples"]
        check(e["text"].dtype.kind == "O" and h5py.check_string_dtype(e["text"].dtype).encoding == "utf-8", f"{mode}: text dtype")
        check([t.decode() for t in e["text"][:]] == [json.loads(l)["prompt"] for l in open(f"{folder}/data.jsonl")], f"{mode}: texts")
        for name in ["label", "pair", "line", "n_tokens", "n_prompt_tokens"]:
            check(e[name].dtype == np.int64 and e[name].shape == (n,), f"{mode}: examples/{name} {e[name].dtype} {e[name].shape}")
        check(e["span"].shape == (n, 2), f"{mode}: span shape")
        counts = e["n_tokens"][:]
        check(list(counts) == [t["logits"].shape[0] for t in traces], f"{mode}: n_tokens {counts}")
        check(e["token_ids"].shape == (counts.sum(),), f"{mode}: token_ids shape")
        for h in hooks:
            d = f[h]
            check(d.dtype == np.float32 and d.chunks is not None and d.maxshape[0] is None, f"{mode}: {h} storage {d.dtype} {d.chunks} {d.maxshape}")
            row = (4, 64) if "attn" in h else (64,)
            if mode == "all":
                check(d.shape == (counts.sum(),) + row, f"all: {h} shape {d.shape}")
                off = f["token_offsets"][:]
                check(list(off) == [0] + list(np.cumsum(counts)), f"all: token_offsets {off}")
                for i in range(n):
                    same_bits(d[off[i]:off[i + 1]], traces[i][h], f"all: {h} example {i}")
            else:
                check(d.shape == (n,) + row, f"last: {h} shape {d.shape}")
                for i in range(n):
                    same_bits(d[i], traces[i][h][-1], f"last: {h} example {i}")

with h5py.File(f"{folder}/trace0.h5", "r") as f:
    check(f.attrs["tool"] == "trace" and f.attrs["positions"] == "all", "trace.h5 attributes")
    same_bits(f["logits"][:], traces[0]["logits"], "trace.h5 logits")
    for h in hooks:
        same_bits(f[h][:], traces[0][h], f"trace.h5 {h}")
print("\n".join(errors) if errors else "OK")
sys.exit(1 if errors else 0)
"""#

    @Test func h5pyReadsTheDocumentedLayoutWithTraceValues() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let model = Fixtures.url("tiny-llama").path
        let prompts = ["The answer is", "Let x be the number of apples. Then", "Café naïve 日本語 🙂 ≤ ± end"]
        _ = try folder.jsonl("data.jsonl", prompts.map { ["prompt": $0] })
        let hooks = ["--hooks", "blocks.*.hook_resid_post", "blocks.1.attn.hook_result"]
        for (i, prompt) in prompts.enumerated() {
            let trace = try VaneProcess.vane(["trace", model, "--prompt", prompt] + hooks
                + ["-o", folder.file("trace\(i).safetensors").path])
            #expect(trace.status == 0, "\(trace.output)")
        }
        let traceH5 = try VaneProcess.vane(["trace", model, "--prompt", prompts[0]] + hooks + ["-o", folder.file("trace0.h5").path])
        #expect(traceH5.status == 0, "\(traceH5.output)")
        for mode in ["all", "last"] {
            let run = try VaneProcess.vane(["extract", model, folder.file("data.jsonl").path] + hooks
                + ["--positions", mode, "--batch", "2", "-o", folder.file("\(mode).h5").path])
            #expect(run.status == 0, "\(run.output)")
        }
        let check = try VaneProcess.run("/usr/bin/env", ["python3", "-c", Self.script, folder.url.path, "\(prompts.count)"])
        #expect(check.status == 0, "h5py check: \(check.output)")
    }
}
