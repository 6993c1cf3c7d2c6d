import Foundation
import VaneModelIO
import VaneTensor

/// How one tensor changed between two models: Δ = θ_A − θ_B.
public struct TensorDiffStats: Codable, Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    /// ‖Δ‖ / ‖θ_B‖ (0 when both are zero; infinite for a tensor only A has).
    public var relativeNorm: Double
    /// cos(θ_A, θ_B).
    public var cosine: Double
    /// Fraction of Δ's entries that are exactly zero.
    public var sparsity: Double
    public var deltaNorm: Double
    /// With `--rank`: the rank of the stored factors and the share of ‖Δ‖² they keep (Σ_{i<R} σᵢ² / Σ σᵢ²);
    /// absent for tensors stored whole.
    public var rank: Int?
    public var retainedEnergy: Double?

    enum CodingKeys: String, CodingKey {
        case name, shape, cosine, sparsity, rank
        case relativeNorm = "relative_norm"
        case deltaNorm = "delta_norm"
        case retainedEnergy = "retained_energy"
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

    /// A tensor whose Δ is exactly zero.
    public static func unchanged(name: String, shape: [Int]) -> TensorDiffStats {
        TensorDiffStats(name: name, shape: shape, relativeNorm: 0, cosine: 1, sparsity: 1, deltaNorm: 0)
    }

    init(name: String, shape: [Int], relativeNorm: Double, cosine: Double, sparsity: Double, deltaNorm: Double) {
        self.name = name
        self.shape = shape
        self.relativeNorm = relativeNorm
        self.cosine = cosine
        self.sparsity = sparsity
        self.deltaNorm = deltaNorm
    }
}

/// The per-tensor report of a diff: which models, and how each tensor moved.
public struct DiffReport: Codable, Sendable {
    public var a: String
    public var b: String
    public var aSHA256: String
    public var bSHA256: String
    /// Every tensor compared, in A's order (unchanged ones included).
    public var tensors: [TensorDiffStats]
    /// Tensors left out by --include/--exclude.
    public var excluded: [String]
    /// Tensors only B has (left out with --allow-missing).
    public var missing: [String]
    /// Tensors only A has: carried whole (Δ against an absent, i.e. zero, tensor).
    public var aOnly: [String] = []

    enum CodingKeys: String, CodingKey {
        case a, b, tensors, excluded, missing
        case aSHA256 = "a_sha256"
        case bSHA256 = "b_sha256"
        case aOnly = "a_only"
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

    /// The tensors a task vector stores: those whose Δ is not zero, and those only A has.
    public var changed: [TensorDiffStats] { tensors.filter { $0.deltaNorm != 0 || aOnly.contains($0.name) } }

    /// A few lines: how many tensors changed, the largest changes, what was left out.
    public func summary(top: Int = 5) -> String {
        let changed = changed
        var lines = ["\(tensors.count) \(tensors.count == 1 ? "tensor" : "tensors") compared: \(changed.count) changed, "
                     + "\(tensors.count - changed.count) unchanged" + (aOnly.isEmpty ? "" : " (\(aOnly.count) only in A, carried whole)")]
        let largest = changed.filter { !aOnly.contains($0.name) }.sorted { $0.relativeNorm > $1.relativeNorm }.prefix(top)
        if !largest.isEmpty {
            lines.append("largest ‖Δ‖/‖θ_B‖: " + largest.map { String(format: "%@ %.3e", $0.name, $0.relativeNorm) }.joined(separator: ", "))
        }
        let lowRank = tensors.compactMap(\.retainedEnergy)
        if let least = lowRank.min() {
            lines.append(String(format: "low-rank factors for %d %@, retained energy %.4f (least) to %.4f", lowRank.count,
                                lowRank.count == 1 ? "tensor" : "tensors", least, lowRank.max()!))
        }
        lines += leftOut
        return lines.joined(separator: "\n")
    }

    var leftOut: [String] {
        var lines: [String] = []
        if !excluded.isEmpty { lines.append("excluded: \(excluded.count) tensors (\(excluded.prefix(3).joined(separator: ", "))\(excluded.count > 3 ? ", …" : ""))") }
        if !missing.isEmpty { lines.append("in B only (skipped): \(missing.joined(separator: ", "))") }
        return lines
    }

    /// One line per tensor: name, shape, ‖Δ‖/‖θ_B‖, cos(θ_A, θ_B), sparsity of Δ (and with --rank the retained energy).
    public func table() -> String {
        let width = max(6, tensors.map(\.name.count).max() ?? 0)
        let lowRank = tensors.contains { $0.retainedEnergy != nil }
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        var lines = [pad("tensor", width) + "  " + pad("shape", 14) + "  rel_norm    cosine      sparsity" + (lowRank ? "  rank  energy" : "")]
        for t in tensors {
            var line = pad(t.name, width) + "  " + pad(t.shape.map(String.init).joined(separator: "x"), 14)
                + String(format: "  %-10.3e  %-10.7f  %6.2f%%", t.relativeNorm, t.cosine, 100 * t.sparsity)
            if let rank = t.rank, let energy = t.retainedEnergy { line += String(format: "  %4d  %.6f", rank, energy) }
            lines.append(line)
        }
        if !aOnly.isEmpty { lines.append("in A only (carried whole): \(aOnly.joined(separator: ", "))") }
        lines += leftOut
        return lines.joined(separator: "\n")
    }
}

/// Task vectors: Δ = θ_A − θ_B, stored as a safetensors file (F32, HF names and layout) whose metadata names the
/// two sources and their identities (ModelIdentity). A task vector is sparse: it holds only the tensors whose Δ is
/// not exactly zero; an absent tensor means Δ = 0. Metadata (all strings):
///
///     vane.format            "task_vector"
///     vane.a, vane.b         the two models' paths; vane.a_sha256, vane.b_sha256 their identities
///     vane.architecture      the models' architecture
///     vane.unchanged         JSON list of the tensors (HF names) compared and found unchanged, not stored
///     vane.a_only            JSON list of the tensors only A has, stored whole (Δ against zero); apply creates
///                            them in a model that lacks them
///     vane.rank              with --rank R: R; each changed matrix W [m, n] for which R·(m + n) < m·n is then
///                            stored as LoRA-style factors `<W without .weight>.lora_A.weight` [R, n] and
///                            `….lora_B.weight` [m, R] with Δ ≈ lora_B · lora_A (no alpha/r scale), from the
///                            truncated SVD Δ = U S Vᵀ: lora_B = U_R √S_R, lora_A = √S_R V_Rᵀ (the diff report
///                            gives each one's retained energy Σ_{i<R} σᵢ² / Σ σᵢ²)
///
/// And θ + α·Δ applied to a model.
public enum TaskVector {
    public static let format = "task_vector"
    static let loraA = ".lora_A.weight", loraB = ".lora_B.weight"

    /// How the tensors of two models pair up: names both have (in `a`'s order), and names only one has.
    public struct Match: Sendable {
        public var common: [String]
        public var aOnly: [String]
        public var bOnly: [String]

        /// Throws at the first name only one model has.
        public func requireSameNames(_ a: ModelInput, _ b: ModelInput, hint: String? = nil) throws {
            if let name = aOnly.first { throw VaneError("tensor \(name) is in \(a.url.path) but not in \(b.url.path)", hint: hint) }
            if let name = bOnly.first { throw VaneError("tensor \(name) is in \(b.url.path) but not in \(a.url.path)", hint: hint) }
        }
    }

    /// Pairs the tensors of `a` and `b`; throws when the architectures differ or a shared name has two shapes.
    public static func matchTensors(_ a: ModelInput, _ b: ModelInput) throws -> Match {
        guard a.config.architecture == b.config.architecture else {
            throw VaneError("architectures differ: \(a.url.path) is \(a.config.architecture), \(b.url.path) is \(b.config.architecture)")
        }
        var match = Match(common: [], aOnly: [], bOnly: [])
        for name in a.names {
            guard let tb = b.stored(name) else { match.aOnly.append(name); continue }
            let ta = a.stored(name)!
            guard ta.shape == tb.shape else {
                throw VaneError("tensor \(name) has shape \(ta.shape) in \(a.url.path) but \(tb.shape) in \(b.url.path)")
            }
            match.common.append(name)
        }
        let aNames = Set(a.names)
        match.bOnly = b.names.filter { !aNames.contains($0) }
        return match
    }

    public static func delta(_ a: Tensor, _ b: Tensor) -> [Float] {
        var d = [Float](repeating: 0, count: a.count)
        for i in 0..<d.count { d[i] = a.data[i] - b.data[i] }
        return d
    }

    /// What diff stores for one tensor.
    enum Stored {
        case delta(String)
        /// Only A has it: θ_A.
        case whole(String)
        /// Factors of Δ at this rank: lora_A then lora_B.
        case factorA(String, rank: Int), factorB(String)
    }

    /// Writes Δ = A − B for the tensors `filter` accepts to the safetensors file `url`, one tensor at a time:
    /// only the tensors that changed, plus those only A has; with `rank`, changed matrices as low-rank factors.
    /// Tensors only B has are an error unless `allowMissing`.
    public static func diff(_ a: ModelInput, _ b: ModelInput, filter: TensorFilter = .all, allowMissing: Bool = false,
                            rank: Int? = nil, to url: URL, progress: (ProgressEvent) -> Void = { _ in }) throws -> DiffReport {
        try OutputPath.check(url, inputs: [a.url, b.url], extensions: ["safetensors"], what: "a task vector (safetensors)")
        if let rank, rank < 1 { throw VaneError("--rank \(rank): the rank must be at least 1") }
        let match = try matchTensors(a, b)
        if let name = match.bOnly.first, !allowMissing {
            throw VaneError("tensor \(name) is in \(b.url.path) but not in \(a.url.path)",
                            hint: "--allow-missing leaves out the tensors only B has (tensors only A has are carried whole)")
        }
        let spec = a.files.spec
        let names = match.common.filter { filter.accepts($0, in: spec) }
        let aOnly = match.aOnly.filter { filter.accepts($0, in: spec) }
        let excluded = (match.common + match.aOnly).filter { !filter.accepts($0, in: spec) }
        guard !names.isEmpty || !aOnly.isEmpty else { throw VaneError("no tensor is left to diff after --include/--exclude") }
        var report = DiffReport(a: a.url.path, b: b.url.path, aSHA256: try ModelIdentity(files: a.files).sha256(),
                                bSHA256: try ModelIdentity(files: b.files).sha256(),
                                tensors: [], excluded: excluded, missing: match.bOnly)
        report.aOnly = aOnly
        func hf(_ name: String) -> String { spec.hf(fromGGUF: name) ?? name }

        // Which tensors changed decides the header, so it is settled first (identical bytes compare quickly).
        var unchanged: Set<String> = []
        for name in names where try a.sameValues(name, as: b) { unchanged.insert(name) }
        var entries: [TensorEntry] = [], stored: [Stored] = []
        let compared = Set(names), carried = Set(aOnly)
        for name in a.names {
            let shape = a.stored(name)!.shape
            if carried.contains(name) {
                entries.append(.init(name: hf(name), type: .f32, shape: shape))
                stored.append(.whole(name))
            } else if compared.contains(name) && !unchanged.contains(name) {
                if let rank, hf(name).hasSuffix(".weight"), let (m, n) = LowRank.factorable(shape, rank: rank) {
                    let stem = String(hf(name).dropLast(".weight".count))
                    entries.append(.init(name: stem + loraA, type: .f32, shape: [rank, n]))
                    entries.append(.init(name: stem + loraB, type: .f32, shape: [m, rank]))
                    stored += [.factorA(name, rank: rank), .factorB(name)]
                } else {
                    entries.append(.init(name: hf(name), type: .f32, shape: shape))
                    stored.append(.delta(name))
                }
            }
        }
        func jsonList(_ list: [String]) -> String {
            String(decoding: (try? JSONSerialization.data(withJSONObject: list.map(hf), options: [])) ?? Data("[]".utf8), as: UTF8.self)
        }
        var metadata = ["format": "pt", "vane.format": format, "vane.a": report.a, "vane.a_sha256": report.aSHA256,
                        "vane.b": report.b, "vane.b_sha256": report.bSHA256, "vane.architecture": a.config.architecture,
                        "vane.unchanged": jsonList(names.filter(unchanged.contains)), "vane.a_only": jsonList(aOnly)]
        var stats: [String: TensorDiffStats] = [:]
        for name in unchanged { stats[name] = .unchanged(name: name, shape: a.stored(name)!.shape) }
        if let rank { metadata["vane.rank"] = String(rank) }

        let totalBytes = entries.reduce(0) { $0 + $1.byteCount }
        var written = 0
        var pendingB: [Float] = []
        progress(ProgressEvent(task: "diff", done: 0, total: entries.count, bytes: 0, totalBytes: totalBytes))
        try SafetensorsWriter.write(to: url, entries: entries, metadata: metadata) { i, emit in
            switch stored[i] {
            case .whole(let name):
                let ta = try a.values(name)
                stats[name] = TensorDiffStats(name: name, shape: ta.shape, a: ta.data, b: [Float](repeating: 0, count: ta.count), delta: ta.data)
                try ta.data.withUnsafeBytes(emit)
            case .delta(let name):
                let ta = try a.values(name), tb = try b.values(name)
                let d = delta(ta, tb)
                stats[name] = TensorDiffStats(name: name, shape: ta.shape, a: ta.data, b: tb.data, delta: d)
                try d.withUnsafeBytes(emit)
            case .factorA(let name, let r):
                let ta = try a.values(name), tb = try b.values(name)
                let d = delta(ta, tb)
                var s = TensorDiffStats(name: name, shape: ta.shape, a: ta.data, b: tb.data, delta: d)
                let f = try LowRank.factors(d, rows: ta.shape[0], cols: ta.shape[1], rank: r, name: name)
                (s.rank, s.retainedEnergy) = (r, f.energy)
                stats[name] = s
                pendingB = f.b
                try f.a.withUnsafeBytes(emit)
            case .factorB:
                try pendingB.withUnsafeBytes(emit)
                pendingB = []
            }
            written += entries[i].byteCount
            progress(ProgressEvent(task: "diff", done: i + 1, total: entries.count, bytes: written, totalBytes: totalBytes, note: entries[i].name))
        }
        report.tensors = a.names.compactMap { stats[$0] }
        return report
    }

    /// A task vector file opened for applying: its Δs under GGUF names.
    public final class File: Sendable {
        public enum Delta: Sendable {
            case dense(StoredTensor)
            /// Δ = b · a.
            case lowRank(a: StoredTensor, b: StoredTensor)

            /// Δ's shape; nil when the factors do not chain.
            var shape: [Int]? {
                switch self {
                case .dense(let t): t.shape
                case .lowRank(let a, let b):
                    a.shape.count == 2 && b.shape.count == 2 && a.shape[0] == b.shape[1] && a.shape[0] > 0 ? [b.shape[0], a.shape[1]] : nil
                }
            }

            var isZero: Bool {
                switch self {
                case .dense(let t): !t.bytes.contains { $0 != 0 }
                case .lowRank(let a, let b): !a.bytes.contains { $0 != 0 } || !b.bytes.contains { $0 != 0 }
                }
            }

            func values() -> [Float] {
                switch self {
                case .dense(let t): return dequantize(t).data
                case .lowRank(let a, let b):
                    return LowRank.product(b: dequantize(b).data, a: dequantize(a).data, rows: b.shape[0], rank: a.shape[0], cols: a.shape[1])
                }
            }

            func release() {
                switch self {
                case .dense(let t): t.owner.dropPages(t.bytes)
                case .lowRank(let a, let b): a.owner.dropPages(a.bytes); b.owner.dropPages(b.bytes)
                }
            }
        }

        public let file: SafetensorsFile
        public let deltas: [String: Delta]
        /// Tensors the file carries whole because only model A had them (`vane.a_only`), GGUF names.
        public let aOnly: Set<String>
        public var metadata: [String: String] { file.metadata }

        /// Tensors are named in `spec`'s HF names (or GGUF names where a tensor has no HF name of its own); factors
        /// as `<name>.lora_A.weight` and `<name>.lora_B.weight` for the tensor `<name>.weight`.
        public init(url: URL, spec: ArchitectureSpec) throws {
            do { file = try SafetensorsFile(url: url) } catch {
                throw VaneError("cannot read the task vector: \(error)")
            }
            func gguf(_ name: String) throws -> String {
                guard let g = spec.gguf(fromHF: name) ?? (spec.binds(gguf: name) ? name : nil) else {
                    throw VaneError("\(url.path): tensor \(name) is not a weight name Vane knows")
                }
                return g
            }
            var deltas: [String: Delta] = [:]
            var factors: [String: (a: StoredTensor?, b: StoredTensor?)] = [:]
            for t in file.tensors {
                for (suffix, isA) in [(loraA, true), (loraB, false)] where t.name.hasSuffix(suffix) {
                    let target = String(t.name.dropLast(suffix.count)) + ".weight"
                    if isA { factors[target, default: (nil, nil)].a = t } else { factors[target, default: (nil, nil)].b = t }
                }
                if t.name.hasSuffix(loraA) || t.name.hasSuffix(loraB) { continue }
                deltas[try gguf(t.name)] = .dense(t)
            }
            for (target, f) in factors {
                guard let a = f.a, let b = f.b else {
                    throw VaneError("\(url.path): \(target) has only one of its low-rank factors (\(f.a == nil ? "lora_A" : "lora_B") is missing)")
                }
                let delta = Delta.lowRank(a: a, b: b)
                guard delta.shape != nil else {
                    throw VaneError("\(url.path): the factors of \(target) do not chain: lora_A is \(a.shape), lora_B \(b.shape)",
                                    hint: "lora_A is [R, n] and lora_B [m, R], R ≥ 1")
                }
                deltas[try gguf(target)] = delta
            }
            self.deltas = deltas
            var aOnly: Set<String> = []
            if let list = file.metadata["vane.a_only"] {
                guard let names = (try? JSONSerialization.jsonObject(with: Data(list.utf8))) as? [String] else {
                    throw VaneError("\(url.path): metadata vane.a_only is not a JSON list of names: \(list.prefix(80))")
                }
                for name in names { aOnly.insert(try gguf(name)) }
            }
            self.aOnly = aOnly
        }
    }

    /// BASE + α·Δ for every tensor the task vector holds; tensors it lacks (Δ = 0), and every tensor when α = 0,
    /// are copied from BASE byte for byte where the output format allows. Tensors the task vector carries whole
    /// (`vane.a_only`) and BASE lacks are created as α·Δ, each after the BASE tensor it shares the longest name
    /// prefix with (a bias after its weight). Changed tensors keep BASE's float type unless `options.dtype` says
    /// otherwise (F32 where BASE stores them quantized).
    @discardableResult
    public static func apply(base: ModelInput, taskVector url: URL, scale: Float, to options: OutputOptions,
                             progress: (ProgressEvent) -> Void = { _ in }) throws -> WriteSummary {
        guard scale.isFinite else {
            throw VaneError("scale \(scale) is not a finite number", hint: "give --scale a number such as 1, 0.5 or -1")
        }
        let tv = try File(url: url, spec: base.files.spec)
        if let arch = tv.metadata["vane.architecture"], arch != base.config.architecture {
            throw VaneError("the task vector \(url.path) was taken from a \(arch) model, but \(base.url.path) is \(base.config.architecture)")
        }
        var created: [String] = []
        for name in tv.deltas.keys.sorted() {
            guard let t = base.stored(name) else {
                guard tv.aOnly.contains(name) else {
                    throw VaneError("the task vector has tensor \(name), which \(base.url.path) lacks",
                                    hint: "only tensors the diff marked as A's own (vane.a_only) are created")
                }
                created.append(name)
                continue
            }
            let shape = tv.deltas[name]!.shape!
            guard t.shape == shape else {
                throw VaneError("tensor \(name) has shape \(t.shape) in \(base.url.path) but \(shape) in the task vector \(url.path)")
            }
        }
        var after: [String: [String]] = [:]
        for name in created { after[neighbour(of: name, in: base.names), default: []].append(name) }
        var out: [OutputTensor] = []
        for name in base.names {
            let shape = base.stored(name)!.shape
            if let d = tv.deltas[name], scale != 0, !d.isZero {
                out.append(OutputTensor(name: name, shape: shape, source: .computed(from: [base]) {
                    var t = try base.values(name)
                    let delta = d.values()
                    for i in 0..<t.count { t.data[i] += scale * delta[i] }
                    return t
                }))
            } else {
                out.append(OutputTensor(name: name, shape: shape, source: .copy(base)))
            }
            for extra in after[name] ?? [] {
                let d = tv.deltas[extra]!
                out.append(OutputTensor(name: extra, shape: d.shape!, source: .computed {
                    Tensor(shape: d.shape!, data: d.values().map { scale * $0 })
                }))
            }
        }
        var provenance = ["command": "apply", "base": base.url.path, "task_vector": url.path, "scale": "\(scale)"]
        for key in ["vane.a", "vane.b", "vane.a_sha256", "vane.b_sha256"] {
            if let v = tv.metadata[key] { provenance["task_vector_" + key.dropFirst(5)] = v }
        }
        return try ModelWriter.write(out, template: base, to: options, provenance: provenance, inputs: [base.url, url], task: "apply",
                                     progress: progress) { name in
            base.release(name)
            tv.deltas[name]?.release()
        }
    }

    /// The tensor of `names` a new tensor goes after: the last of those sharing the most leading dot-separated
    /// parts with it (`blk.3.ffn_down.bias` → `blk.3.ffn_down.weight`), else the last.
    static func neighbour(of name: String, in names: [String]) -> String {
        let parts = name.split(separator: ".")
        var best = names.last ?? name, bestShared = -1
        for other in names {
            let shared = zip(parts, other.split(separator: ".")).prefix { $0 == $1 }.count
            if shared >= bestShared { (best, bestShared) = (other, shared) }
        }
        return best
    }
}
