import Foundation
import VaneModelIO
import VaneTensor

/// How one tensor changed between two models: Δ = θ_A − θ_B.
public struct TensorDiffStats: Codable, Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    /// ‖Δ‖ / ‖θ_B‖ (0 when both are zero).
    public var relativeNorm: Double
    /// cos(θ_A, θ_B).
    public var cosine: Double
    /// Fraction of Δ's entries that are exactly zero.
    public var sparsity: Double
    public var deltaNorm: Double

    enum CodingKeys: String, CodingKey {
        case name, shape, cosine, sparsity
        case relativeNorm = "relative_norm"
        case deltaNorm = "delta_norm"
    }

    public init(name: String, shape: [Int], a: [Float], b: [Float], delta: [Float]) {
        var aa = 0.0, bb = 0.0, ab = 0.0, dd = 0.0, zeros = 0
        for i in 0..<delta.count {
            let x = Double(a[i]), y = Double(b[i]), d = Double(delta[i])
            aa += x * x; bb += y * y; ab += x * y; dd += d * d
            if delta[i] == 0 { zeros += 1 }
        }
        self.name = name
        self.shape = shape
        deltaNorm = dd.squareRoot()
        relativeNorm = bb > 0 ? deltaNorm / bb.squareRoot() : (dd > 0 ? .infinity : 0)
        cosine = aa > 0 && bb > 0 ? ab / (aa.squareRoot() * bb.squareRoot()) : (aa == bb ? 1 : 0)
        sparsity = delta.isEmpty ? 1 : Double(zeros) / Double(delta.count)
    }
}

/// The per-tensor report of a diff: which models, and how each tensor moved.
public struct DiffReport: Codable, Sendable {
    public var a: String
    public var b: String
    public var aSHA256: String
    public var bSHA256: String
    public var tensors: [TensorDiffStats]
    /// Tensors left out by --include/--exclude.
    public var excluded: [String]
    /// Tensors only one model has (with --allow-missing).
    public var missing: [String]

    enum CodingKeys: String, CodingKey {
        case a, b, tensors, excluded, missing
        case aSHA256 = "a_sha256"
        case bSHA256 = "b_sha256"
    }

    public init(a: String, b: String, aSHA256: String, bSHA256: String, tensors: [TensorDiffStats] = [],
                excluded: [String] = [], missing: [String] = []) {
        self.a = a
        self.b = b
        self.aSHA256 = aSHA256
        self.bSHA256 = bSHA256
        self.tensors = tensors
        self.excluded = excluded
        self.missing = missing
    }

    public func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(self)
    }

    /// One line per tensor: name, shape, ‖Δ‖/‖θ_B‖, cos(θ_A, θ_B), sparsity of Δ.
    public func table() -> String {
        let width = max(6, tensors.map(\.name.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        var lines = [pad("tensor", width) + "  " + pad("shape", 14) + "  rel_norm    cosine      sparsity"]
        for t in tensors {
            lines.append(pad(t.name, width) + "  " + pad(t.shape.map(String.init).joined(separator: "x"), 14)
                         + String(format: "  %-10.3e  %-10.7f  %6.2f%%", t.relativeNorm, t.cosine, 100 * t.sparsity))
        }
        if !excluded.isEmpty { lines.append("excluded: \(excluded.count) tensors (\(excluded.prefix(3).joined(separator: ", "))\(excluded.count > 3 ? ", …" : ""))") }
        if !missing.isEmpty { lines.append("in one model only (skipped): \(missing.joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }
}

/// Task vectors: Δ = θ_A − θ_B per tensor, stored as a safetensors file (F32, HF names and layout) whose metadata
/// names the two sources and their identities (ModelIdentity: `vane.format` = "task_vector", `vane.a`,
/// `vane.a_sha256`, `vane.b`, `vane.b_sha256`, `vane.architecture`); and θ + α·Δ applied to a model.
public enum TaskVector {
    public static let format = "task_vector"

    /// Names of `a` (in its order) that a diff of a and b covers; throws at the first difference in
    /// architecture, names or shapes. With `allowMissing`, names only one model has are returned as `missing`.
    public static func matchTensors(_ a: ModelInput, _ b: ModelInput, allowMissing: Bool = false) throws -> (common: [String], missing: [String]) {
        guard a.config.architecture == b.config.architecture else {
            throw VaneError("architectures differ: \(a.url.path) is \(a.config.architecture), \(b.url.path) is \(b.config.architecture)")
        }
        let aNames = Set(a.names)
        var common: [String] = [], missing: [String] = []
        for name in a.names {
            guard let tb = b.stored(name) else {
                if allowMissing { missing.append(name); continue }
                throw VaneError("tensor \(name) is in \(a.url.path) but not in \(b.url.path)",
                                hint: "--allow-missing diffs only the tensors both models have")
            }
            let ta = a.stored(name)!
            guard ta.shape == tb.shape else {
                throw VaneError("tensor \(name) has shape \(ta.shape) in \(a.url.path) but \(tb.shape) in \(b.url.path)")
            }
            common.append(name)
        }
        for name in b.names where !aNames.contains(name) {
            if allowMissing { missing.append(name); continue }
            throw VaneError("tensor \(name) is in \(b.url.path) but not in \(a.url.path)",
                            hint: "--allow-missing diffs only the tensors both models have")
        }
        return (common, missing)
    }

    public static func delta(_ a: Tensor, _ b: Tensor) -> [Float] {
        var d = [Float](repeating: 0, count: a.count)
        for i in 0..<d.count { d[i] = a.data[i] - b.data[i] }
        return d
    }

    /// Writes Δ = A − B for the tensors `filter` accepts to the safetensors file `url`, one tensor at a time.
    public static func diff(_ a: ModelInput, _ b: ModelInput, filter: TensorFilter = .all, allowMissing: Bool = false,
                            to url: URL, progress: (ProgressEvent) -> Void = { _ in }) throws -> DiffReport {
        try OutputOptions(url: url).validate(inputs: [a.url, b.url])
        let (common, missing) = try matchTensors(a, b, allowMissing: allowMissing)
        let names = common.filter { filter.accepts($0, in: a.files.spec) }
        let excluded = common.filter { !filter.accepts($0, in: a.files.spec) }
        guard !names.isEmpty else { throw VaneError("no tensor is left to diff after --include/--exclude") }
        var report = DiffReport(a: a.url.path, b: b.url.path, aSHA256: try ModelIdentity(files: a.files).sha256(),
                                bSHA256: try ModelIdentity(files: b.files).sha256(),
                                tensors: [], excluded: excluded, missing: missing)
        var entries: [TensorEntry] = []
        for name in names {
            entries.append(.init(name: a.files.spec.hf(fromGGUF: name) ?? name, type: .f32, shape: a.stored(name)!.shape))
        }
        let metadata = ["format": "pt", "vane.format": format, "vane.a": report.a, "vane.a_sha256": report.aSHA256,
                        "vane.b": report.b, "vane.b_sha256": report.bSHA256, "vane.architecture": a.config.architecture]
        let totalBytes = entries.reduce(0) { $0 + $1.byteCount }
        var written = 0
        progress(ProgressEvent(task: "diff", done: 0, total: entries.count, bytes: 0, totalBytes: totalBytes))
        var stats: [TensorDiffStats] = []
        try SafetensorsWriter.write(to: url, entries: entries, metadata: metadata) { i, emit in
            let name = names[i]
            let ta = try a.values(name), tb = try b.values(name)
            let d = delta(ta, tb)
            stats.append(TensorDiffStats(name: name, shape: ta.shape, a: ta.data, b: tb.data, delta: d))
            try d.withUnsafeBytes(emit)
            written += entries[i].byteCount
            progress(ProgressEvent(task: "diff", done: i + 1, total: entries.count, bytes: written, totalBytes: totalBytes, note: name))
            a.release(name)
            b.release(name)
        }
        report.tensors = stats
        return report
    }

    /// A task vector file opened for applying: its tensors under GGUF names.
    public final class File: Sendable {
        public let file: SafetensorsFile
        public let tensors: [String: StoredTensor]
        public var metadata: [String: String] { file.metadata }

        /// Tensors are named in `spec`'s HF names (or GGUF names where a tensor has no HF name of its own).
        public init(url: URL, spec: ArchitectureSpec) throws {
            do { file = try SafetensorsFile(url: url) } catch {
                throw VaneError("cannot read the task vector: \(error)")
            }
            var byName: [String: StoredTensor] = [:]
            for t in file.tensors {
                guard let name = spec.gguf(fromHF: t.name) ?? (spec.binds(gguf: t.name) ? t.name : nil) else {
                    throw VaneError("\(url.path): tensor \(t.name) is not a weight name Vane knows")
                }
                byName[name] = t
            }
            tensors = byName
        }
    }

    /// BASE + α·Δ for every tensor the task vector holds; other tensors, and tensors whose Δ is all zeros or α = 0,
    /// are copied from BASE unchanged (byte for byte where the output format allows).
    public static func apply(base: ModelInput, taskVector url: URL, scale: Float, to options: OutputOptions,
                             progress: (ProgressEvent) -> Void = { _ in }) throws {
        guard scale.isFinite else {
            throw VaneError("scale \(scale) is not a finite number", hint: "give --scale a number such as 1, 0.5 or -1")
        }
        let tv = try File(url: url, spec: base.files.spec)
        if let arch = tv.metadata["vane.architecture"], arch != base.config.architecture {
            throw VaneError("the task vector \(url.path) was taken from a \(arch) model, but \(base.url.path) is \(base.config.architecture)")
        }
        for name in tv.tensors.keys.sorted() {
            guard let t = base.stored(name) else {
                throw VaneError("the task vector has tensor \(name), which \(base.url.path) lacks")
            }
            guard t.shape == tv.tensors[name]!.shape else {
                throw VaneError("tensor \(name) has shape \(t.shape) in \(base.url.path) but \(tv.tensors[name]!.shape) in the task vector \(url.path)")
            }
        }
        var out: [OutputTensor] = []
        for name in base.names {
            let shape = base.stored(name)!.shape
            guard let d = tv.tensors[name], scale != 0, d.bytes.contains(where: { $0 != 0 }) else {
                out.append(OutputTensor(name: name, shape: shape, source: .copy(base)))
                continue
            }
            out.append(OutputTensor(name: name, shape: shape, source: .computed {
                var t = try base.values(name)
                let delta = dequantize(d)
                for i in 0..<t.count { t.data[i] += scale * delta.data[i] }
                return t
            }))
        }
        var provenance = ["command": "apply", "base": base.url.path, "task_vector": url.path, "scale": "\(scale)"]
        for key in ["vane.a", "vane.b", "vane.a_sha256", "vane.b_sha256"] {
            if let v = tv.metadata[key] { provenance["task_vector_" + key.dropFirst(5)] = v }
        }
        try ModelWriter.write(out, template: base, to: options, provenance: provenance, inputs: [base.url, url], task: "apply",
                              progress: progress) { name in
            base.release(name)
            if let d = tv.tensors[name] { releasePages(d.bytes) }
        }
    }
}
