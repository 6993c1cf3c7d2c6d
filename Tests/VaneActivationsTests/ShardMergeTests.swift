import Foundation
import Testing
import VaneActivations
import VaneTestSupport

/// `vane extract --shard K/N` and `vane store merge`: shards 1…N merged equal one run over the same input in every
/// dataset, bit for bit (compared by ActivationStore and by h5py, which walks every dataset of both files), copied
/// or linked as HDF5 virtual datasets; stores that are not shards 1…N of one extraction are refused by name.
@Suite struct ShardMergeTests {
    /// Compares every dataset of two files (names, dtypes, shapes, raw bytes; strings as decoded) and the root
    /// attributes that describe the data; `virtual` names the datasets expected to be virtual in the first file.
    static let compareScript = #"""
import sys, h5py, numpy as np
merged, single, virtual = sys.argv[1], sys.argv[2], sys.argv[3] == "virtual"
errors = []
def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return out
with h5py.File(merged, "r") as m, h5py.File(single, "r") as s:
    a, b = datasets(m), datasets(s)
    if sorted(a) != sorted(b): errors.append(f"dataset names differ: {sorted(a)} vs {sorted(b)}")
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        if x.dtype != y.dtype or x.shape != y.shape:
            errors.append(f"{name}: {x.dtype} {x.shape} vs {y.dtype} {y.shape}"); continue
        u, v = x[()], y[()]
        if x.dtype.kind == "O":
            same = list(u) == list(v)
        else:
            same = u.tobytes() == v.tobytes()
        if not same:
            if x.dtype.kind == "O":
                first = [i for i in range(len(u)) if u[i] != v[i]][:3]
            else:
                first = [tuple(i) for i in np.argwhere(u != v)[:3]]
            errors.append(f"{name}: values differ, first at {first}")
        hook = name not in ("token_offsets",) and not name.startswith("examples")
        if x.is_virtual != (virtual and hook):
            errors.append(f"{name}: is_virtual {x.is_virtual}, expected {virtual and hook}")
    for key in ["format", "format_version", "tool", "model_sha256", "architecture", "dims", "tokenizer", "chat_template",
                "hooks", "positions", "span", "span_markers", "skip_first", "input_sha256", "n_examples"]:
        if not np.array_equal(np.asarray(m.attrs[key]), np.asarray(s.attrs[key])):
            errors.append(f"attribute {key}: {m.attrs[key]!r} vs {s.attrs[key]!r}")
    if "shard" in m.attrs: errors.append("merged store keeps the shard attribute")
print("\n".join(errors) if errors else "OK")
sys.exit(1 if errors else 0)
"""#

    /// Every dataset of `merged` equals `single`'s, read through ActivationStore: example tables, token ids, token
    /// offsets, and each hook's values bit for bit (Float.bitPattern; tolerance 0).
    static func expectEqualStores(_ merged: URL, _ single: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let a = try ActivationStore(url: merged)
        let b = try ActivationStore(url: single)
        #expect(a.count == b.count, "examples \(a.count) vs \(b.count)", sourceLocation: sourceLocation)
        #expect(a.examples == b.examples, "example tables differ: pairs \(a.examples.pairs) vs \(b.examples.pairs), lines \(a.examples.lines) vs \(b.examples.lines)",
                sourceLocation: sourceLocation)
        #expect(a.tokenOffsets == b.tokenOffsets, sourceLocation: sourceLocation)
        #expect(a.hooks == b.hooks, sourceLocation: sourceLocation)
        #expect(try a.tokenIDs(examples: 0..<a.count) == b.tokenIDs(examples: 0..<b.count), sourceLocation: sourceLocation)
        for hook in b.hooks {
            let x = try a.read(hook: hook), y = try b.read(hook: hook)
            #expect(x.shape == y.shape, "\(hook): shape \(x.shape) vs \(y.shape)", sourceLocation: sourceLocation)
            let first = zip(x.data, y.data).enumerated().filter { $0.1.0.bitPattern != $0.1.1.bitPattern }.prefix(3)
            #expect(first.isEmpty && x.data.count == y.data.count,
                    "\(hook): first differing values \(first.map { "[\($0.0)] \($0.1.0) vs \($0.1.1)" })",
                    sourceLocation: sourceLocation)
        }
    }

    static func h5pyCompare(_ merged: URL, _ single: URL, virtual: Bool,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard VaneProcess.hasH5py else { return }
        // Run from / so that relative shard names can only resolve beside the merged file.
        let check = try VaneProcess.run("/usr/bin/env", ["python3", "-c", compareScript, merged.path, single.path,
                                                         virtual ? "virtual" : "copy"], in: URL(fileURLWithPath: "/"))
        #expect(check.status == 0, "h5py comparison: \(check.output)", sourceLocation: sourceLocation)
    }

    @discardableResult
    static func vane(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let run = try VaneProcess.vane(arguments)
        #expect(run.status == 0, "vane \(arguments.joined(separator: " ")): \(run.output)", sourceLocation: sourceLocation)
        return run.output
    }

    /// Lines of every form: plain prompts with labels, contrastive pairs (pair ids to renumber), chat messages
    /// (the chat template used by some shards only), teacher-forced completions, and blank lines (which do not
    /// count as example lines).
    static func mixedLines() -> [[String: Any]] {
        var lines: [[String: Any]] = []
        for i in 0..<11 {
            switch i % 4 {
            case 0: lines.append(["prompt": "Example \(i): the answer is", "label": i % 3])
            case 1: lines.append(["positive": "I love line \(i)", "negative": ["prompt": "I hate line \(i)"]])
            case 2: lines.append(["messages": [["role": "user", "content": "What is \(i) + \(i)?"]]])
            default: lines.append(["prompt": "Q\(i): café naïve", "completion": " A: \(2 * i) 日本"])
            }
        }
        return lines
    }

    func writeMixed(_ folder: TemporaryFolder) throws -> URL {
        let lines = try Self.mixedLines().map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        // Blank lines at the start, in the middle and at the end.
        return try folder.text("data.jsonl", "\n" + lines[..<5].joined(separator: "\n") + "\n\n"
            + lines[5...].joined(separator: "\n") + "\n\n")
    }

    /// Extracts `data` once and as `n` shards (given to the merge in reverse order), merges, and compares.
    func check(model: String, data: URL, folder: TemporaryFolder, n: Int, options: [String], virtual: Bool) throws {
        let single = folder.file("single.h5")
        if !FileManager.default.fileExists(atPath: single.path) {
            try Self.vane(["extract", model, data.path] + options + ["-o", single.path])
        }
        var shards: [URL] = []
        for k in 1...n {
            let shard = folder.file("shard-\(k)-of-\(n).h5")
            if !FileManager.default.fileExists(atPath: shard.path) {
                try Self.vane(["extract", model, data.path] + options + ["--shard", "\(k)/\(n)", "-o", shard.path])
            }
            #expect(try ActivationStore(url: shard).provenance.shard == Shard(index: k, count: n))
            shards.append(shard)
        }
        let merged = folder.file("merged-\(n)\(virtual ? "-virtual" : "").h5")
        try Self.vane(["store", "merge"] + shards.reversed().map(\.path) + (virtual ? ["--virtual"] : []) + ["-o", merged.path])
        try Self.expectEqualStores(merged, single)
        try Self.h5pyCompare(merged, single, virtual: virtual)
    }

    @Test(arguments: ["last", "all", "mean"])
    func tinyShardsMergeToTheSingleRun(positions: String) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let data = try writeMixed(folder)
        let model = Fixtures.url("tiny-llama").path
        let options = ["--hooks", "blocks.*.hook_resid_post", "blocks.1.attn.hook_result", "--positions", positions,
                       "--batch", "2"]
        for n in [1, 3, 11] {
            try check(model: model, data: data, folder: folder, n: n, options: options, virtual: false)
        }
        try check(model: model, data: data, folder: folder, n: 3, options: options, virtual: true)
    }

    /// A shard whose only line is bad is an empty store under --skip-bad, and the merge still equals one run.
    @Test func emptyShardUnderSkipBad() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let data = try folder.text("data.jsonl", #"""
            {"prompt": "first", "label": 1}
            {"prompt": 3}
            {"positive": "yes", "negative": "no"}
            """#)
        let options = ["--hooks", "blocks.2.hook_resid_post", "--skip-bad"]
        try check(model: Fixtures.url("tiny-qwen2").path, data: data, folder: folder, n: 3, options: options, virtual: false)
        #expect(try ActivationStore(url: folder.file("shard-2-of-3.h5")).count == 0)
        try check(model: Fixtures.url("tiny-qwen2").path, data: data, folder: folder, n: 3, options: options, virtual: true)
    }

    @Test func partitionIsContiguousAndCoversEveryLine() throws {
        for lines in [1, 2, 7, 10, 97] {
            for n in 1...min(lines, 12) {
                let ranges = try (1...n).map { try Shard(index: $0, count: n).range(of: lines) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == lines)
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                let sizes = ranges.map(\.count)
                #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1 && sizes.allSatisfy { $0 >= 1 }, "\(lines)/\(n): \(sizes)")
            }
        }
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", "2/3/4"] {
            expect(errorText { _ = try Shard(bad) }, contains: [bad, "K/N"])
        }
    }

    /// What the merge refuses, and what each refusal names.
    @Test func mergeRefusesStoresThatAreNotOneExtractionsShards() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let model = Fixtures.url("tiny-llama").path
        let data = try folder.jsonl("data.jsonl", (0..<5).map { ["prompt": "line \($0) of five"] })
        let other = try folder.jsonl("other.jsonl", (0..<5).map { ["prompt": "another line \($0)"] })
        let hooks = ["--hooks", "blocks.0.hook_resid_post"]
        func extract(_ input: URL, _ shard: String?, _ name: String, _ extra: [String] = []) throws -> String {
            let out = folder.file(name).path
            try Self.vane(["extract", model, input.path] + hooks + extra + (shard.map { ["--shard", $0] } ?? []) + ["-o", out])
            return out
        }
        let s1 = try extract(data, "1/3", "s1.h5"), s2 = try extract(data, "2/3", "s2.h5"), s3 = try extract(data, "3/3", "s3.h5")
        let whole = try extract(data, nil, "whole.h5")
        let otherInput = try extract(other, "2/3", "other2.h5")
        let otherHooks = try extract(data, "2/3", "hooks2.h5", ["--hooks", "blocks.1.hook_resid_post"])
        let otherPositions = try extract(data, "2/3", "mean2.h5", ["--positions", "mean"])
        let ofFour = try extract(data, "2/4", "s2of4.h5")
        func refusal(_ shards: [String]) throws -> String {
            let out = folder.file("merged.h5")
            let run = try VaneProcess.vane(["store", "merge"] + shards + ["-o", out.path])
            #expect(run.status != 0, "merged what it should refuse: \(shards)")
            #expect(!FileManager.default.fileExists(atPath: out.path), "a refused merge left \(out.path)")
            return run.output
        }
        expect(try refusal([s1, s3]), contains: ["shard 2 of 3 missing"])
        expect(try refusal([s1, s2, s2, s3]), contains: ["s2.h5", "both shard 2/3"])
        expect(try refusal([s1, otherInput, s3]), contains: ["other2.h5", "input_sha256"])
        expect(try refusal([s1, otherHooks, s3]), contains: ["hooks2.h5", "hooks"])
        expect(try refusal([s1, otherPositions, s3]), contains: ["mean2.h5", "positions"])
        expect(try refusal([s1, ofFour, s3]), contains: ["s2of4.h5", "shard count"])
        expect(try refusal([s1, whole, s3]), contains: ["whole.h5", "is not a shard"])
        try FileManager.default.copyItem(atPath: s2, toPath: s2 + ".partial")
        expect(try refusal([s1, s2 + ".partial", s3]), contains: ["unfinished extraction", "--resume"])
        // --resume refuses a partial store of another shard.
        try FileManager.default.moveItem(atPath: s2 + ".partial", toPath: folder.file("resumed.h5.partial").path)
        let resumed = try VaneProcess.vane(["extract", model, data.path] + hooks
            + ["--shard", "3/3", "--resume", "-o", folder.file("resumed.h5").path])
        #expect(resumed.status != 0)
        expect(resumed.output, contains: ["cannot resume", "shard 2/3", "3/3"])
        // Too many shards for the lines is refused before any compute.
        let many = try VaneProcess.vane(["extract", model, data.path] + hooks + ["--shard", "6/6", "-o", folder.file("x.h5").path])
        #expect(many.status != 0)
        expect(many.output, contains: ["5 example lines cannot make 6 shards"])
    }

    /// A store merged with --virtual reads through its shards beside it: moved together it still reads; without
    /// a shard it is refused by name instead of reading libhdf5's fill values.
    @Test func virtualMergeNeedsItsShardsBesideIt() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let model = Fixtures.url("tiny-llama").path
        let data = try folder.jsonl("data.jsonl", (0..<4).map { ["prompt": "line \($0)", "label": $0 % 2] })
        let options = ["--hooks", "blocks.*.hook_resid_post", "--positions", "all"]
        try check(model: model, data: data, folder: folder, n: 2, options: options, virtual: true)
        // Move the merged store and its shards into another folder: relative links still resolve.
        let moved = folder.file("moved")
        try FileManager.default.createDirectory(at: moved, withIntermediateDirectories: true)
        for name in ["merged-2-virtual.h5", "shard-1-of-2.h5", "shard-2-of-2.h5"] {
            try FileManager.default.moveItem(at: folder.file(name), to: moved.appendingPathComponent(name))
        }
        let merged = moved.appendingPathComponent("merged-2-virtual.h5")
        try Self.expectEqualStores(merged, folder.file("single.h5"))
        try Self.h5pyCompare(merged, folder.file("single.h5"), virtual: true)
        try FileManager.default.removeItem(at: moved.appendingPathComponent("shard-2-of-2.h5"))
        expect(errorText { _ = try ActivationStore(url: merged) },
               contains: ["shard-2-of-2.h5", "is not at", "merge again without --virtual"])
    }

    /// Shards elsewhere than the merged store are named by a relative path that climbs out of its folder.
    @Test func relativePathsClimbOutOfTheMergedStoresFolder() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let model = Fixtures.url("tiny-llama").path
        let data = try folder.jsonl("data.jsonl", (0..<3).map { ["prompt": "shard line \($0)"] })
        let shardFolder = folder.file("shards"), outFolder = folder.file("out/merged")
        for url in [shardFolder, outFolder] { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        let options = ["--hooks", "blocks.1.hook_resid_post"]
        try Self.vane(["extract", model, data.path] + options + ["-o", folder.file("single.h5").path])
        let shards = try (1...2).map { k in
            let url = shardFolder.appendingPathComponent("part\(k).h5")
            try Self.vane(["extract", model, data.path] + options + ["--shard", "\(k)/2", "-o", url.path])
            return url.path
        }
        let merged = outFolder.appendingPathComponent("all.h5")
        try Self.vane(["store", "merge", "--virtual"] + shards + ["-o", merged.path])
        try Self.expectEqualStores(merged, folder.file("single.h5"))
        try Self.h5pyCompare(merged, folder.file("single.h5"), virtual: true)
    }
}

/// The same on SmolLM2, a few lines of each form, pooled and all positions.
@Suite(.enabled(if: Fixtures.smollm2 != nil, "SmolLM2 is not in the cache (vane fetch smollm2)"))
struct SmolLM2ShardMergeTests {
    @Test(arguments: ["mean", "all"])
    func smollm2ShardsMergeToTheSingleRun(positions: String) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let model = try #require(Fixtures.smollm2).path
        let data = try ShardMergeTests().writeMixed(folder)
        let options = ["--hooks", "blocks.*.hook_resid_post", "blocks.7.attn.hook_z", "--positions", positions,
                       "--batch", "3"]
        try ShardMergeTests().check(model: model, data: data, folder: folder, n: 4, options: options, virtual: false)
        try ShardMergeTests().check(model: model, data: data, folder: folder, n: 4, options: options, virtual: true)
    }
}
