import Foundation
import VaneModelIO
import VaneTensor

/// Where and how an edited model is written.
public struct OutputOptions: Sendable {
    public enum Format: Sendable { case gguf, hfFolder }

    public var url: URL
    public var format: Format
    /// Type of the tensors Vane computes (merged, edited, converted). HF folders take F32, F16 or BF16; GGUF also
    /// Q8_0, Q4_0 and Q4_1 (1-D tensors then stay F32). nil: the type the tensor's source models store it in when
    /// they agree on F32, F16 or BF16, else F32 (a result computed from quantized values is not on their grid).
    public var dtype: GGMLType?
    /// Re-encode unchanged tensors to `dtype` as well, instead of copying their stored bytes.
    public var convertCopies: Bool
    /// Largest safetensors shard in bytes (HF folders).
    public var shardSize: Int

    public static let defaultShardSize = 5_000_000_000

    /// The format follows the path: `*.gguf` is a GGUF file, anything else an HF folder.
    public init(url: URL, dtype: GGMLType? = nil, convertCopies: Bool = false, shardSize: Int = defaultShardSize) {
        self.url = url
        self.format = url.pathExtension.lowercased() == "gguf" ? .gguf : .hfFolder
        self.dtype = dtype
        self.convertCopies = convertCopies
        self.shardSize = shardSize
    }

    func validate(inputs: [URL]) throws {
        if let dtype {
            let allowed = format == .gguf ? Encode.ggufTypes : Encode.safetensorsTypes
            guard allowed.contains(dtype) else {
                throw VaneError("\(url.path): an \(format == .gguf ? "GGUF file" : "HF folder") cannot hold \(dtype) tensors",
                                hint: "use one of " + allowed.map(\.description).joined(separator: ", "))
            }
        }
        guard shardSize > 0 else { throw VaneError("the shard size must be positive (got \(shardSize))") }
        try OutputPath.check(url, inputs: inputs, folder: format == .hfFolder)
    }
}

/// One tensor of the output, under its GGUF name, with its shape in HF order.
public struct OutputTensor {
    public enum Source {
        /// Unchanged from this input (its stored bytes are copied where the output format allows).
        case copy(ModelInput)
        /// Values in HF layout, computed when the writer reaches this tensor from the models `from` (whose stored
        /// type it takes when no dtype is given; none: F32).
        case computed(from: [ModelInput] = [], () throws -> Tensor)
    }

    public var name: String
    public var shape: [Int]
    public var source: Source

    public init(name: String, shape: [Int], source: Source) {
        self.name = name
        self.shape = shape
        self.source = source
    }
}

/// What a model writer wrote: the tensors it computed, those it copied byte for byte, and those it carried over
/// re-encoded (a quantized tensor in an HF folder, or convert --dtype), each counted by the type written.
public struct WriteSummary: Sendable, Equatable, CustomStringConvertible {
    public var computed: [GGMLType: Int] = [:]
    public var copied: [GGMLType: Int] = [:]
    public var reencoded: [GGMLType: Int] = [:]

    public init() {}

    /// "4 tensors computed (F32), 268 tensors copied byte for byte (Q4_1 206, F32 61, Q8_0 1)".
    public var description: String {
        func types(_ t: [GGMLType: Int]) -> String {
            let sorted = t.sorted { ($0.value, $1.key.rawValue) > ($1.value, $0.key.rawValue) }
            return sorted.count == 1 ? "\(sorted[0].key)" : sorted.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        var parts: [String] = []
        for (n, what) in [(computed, "computed"), (reencoded, "re-encoded"), (copied, "copied byte for byte")] where !n.isEmpty {
            let total = n.values.reduce(0, +)
            parts.append("\(total) \(total == 1 ? "tensor" : "tensors") \(what) (\(types(n)))")
        }
        return parts.isEmpty ? "no tensors" : parts.joined(separator: ", ")
    }
}

/// Writes models tensor by tensor, so memory holds one output tensor (plus whatever its computation reads).
public enum ModelWriter {
    /// Writes `tensors` to `options.url`. `template` gives the architecture, config and metadata; `tokenizer` (by
    /// default the template) the tokenizer and chat template. `provenance` becomes `vane.*` metadata. `inputs` are
    /// every file the result was made from, which the output must not overwrite. `progress` hears of each tensor
    /// written, under `task`; `done(name)` runs after each tensor is written (callers release the input pages it
    /// read). Returns what was written.
    @discardableResult
    public static func write(_ tensors: [OutputTensor], template: ModelInput, tokenizer: ModelInput? = nil,
                             to options: OutputOptions, provenance: [String: String], inputs: [URL], task: String,
                             progress: (ProgressEvent) -> Void, done: (String) -> Void = { _ in }) throws -> WriteSummary {
        try options.validate(inputs: inputs)
        let tokenizer = tokenizer ?? template
        switch options.format {
        case .gguf: return try writeGGUF(tensors, template: template, tokenizer: tokenizer, options: options, provenance: provenance,
                                  task: task, progress: progress, done: done)
        case .hfFolder: return try writeFolder(tensors, template: template, tokenizer: tokenizer, options: options, provenance: provenance,
                                        task: task, progress: progress, done: done)
        }
    }

    // MARK: GGUF

    static func writeGGUF(_ tensors: [OutputTensor], template: ModelInput, tokenizer: ModelInput, options: OutputOptions,
                          provenance: [String: String], task: String, progress: (ProgressEvent) -> Void,
                          done: (String) -> Void) throws -> WriteSummary {
        let config = template.config
        let tensors = tensors.isEmpty ? tensors : ropeTensors(config, template: template) + tensors
        var entries: [TensorEntry] = []
        var copies: [Bool] = []
        var summary = WriteSummary()
        for t in tensors {
            if case .copy(let input) = t.source, !options.convertCopies, let stored = input.stored(t.name),
               input.isGGUF || Encode.safetensorsTypes.contains(stored.type) {
                entries.append(.init(name: t.name, type: stored.type, shape: t.shape))
                copies.append(true)
                summary.copied[stored.type, default: 0] += 1
            } else {
                let type = Encode.ggufType(outputType(t, options), shape: t.shape)
                entries.append(.init(name: t.name, type: type, shape: t.shape))
                copies.append(false)
                if case .copy = t.source { summary.reencoded[type, default: 0] += 1 } else { summary.computed[type, default: 0] += 1 }
            }
        }
        var metadata = try MetadataConvert.ggufMetadata(of: template)
        if tokenizer !== template {
            metadata.removeAll { $0.key.hasPrefix("tokenizer.") }
            metadata += try MetadataConvert.ggufMetadata(of: tokenizer).filter { $0.key.hasPrefix("tokenizer.") }
        }
        metadata.removeAll { $0.key.hasPrefix("vane.") }
        if let ftype = MetadataConvert.fileType(entries.filter { $0.shape.count >= 2 }.map(\.type)) {
            metadata.removeAll { $0.key == "general.file_type" }
            metadata.append(("general.file_type", .uint32(ftype)))
        }
        metadata += provenance.sorted { $0.key < $1.key }.map { ("vane.\($0.key)", GGUFValue.string($0.value)) }
        let alignment: Int = if case .gguf(let f) = template.files.source { f.alignment } else { GGUFFile.defaultAlignment }

        let totalBytes = entries.reduce(0) { $0 + $1.byteCount }
        var written = 0
        progress(ProgressEvent(task: task, done: 0, total: entries.count, bytes: 0, totalBytes: totalBytes))
        try GGUFWriter.write(to: options.url, metadata: metadata, entries: entries, alignment: alignment) { i, emit in
            let t = tensors[i], e = entries[i]
            let heads = QKLayout.heads(of: t.name, spec: template.files.spec, config: config)
            if copies[i], case .copy(let input) = t.source, let stored = input.stored(t.name) {
                try checkShape(stored.shape, t)
                if let heads, !input.isGGUF {
                    try QKLayout.rows(stored.bytes, rows: t.shape[0], heads: heads, to: .gguf, name: t.name).withUnsafeBytes(emit)
                } else {
                    try emit(stored.bytes)
                }
            } else {
                var values = try tensorValues(t)
                if let heads { values = try QKLayout.rows(values, rows: t.shape[0], heads: heads, to: .gguf, name: t.name) }
                try Encode.emit(values, as: e.type, emit)
            }
            written += e.byteCount
            progress(ProgressEvent(task: task, done: i + 1, total: entries.count, bytes: written, totalBytes: totalBytes, note: t.name))
            done(t.name)
        }
        return summary
    }

    /// RoPE scaling of an HF template as llama.cpp's converter writes it into a GGUF file, first: Llama 3's tensor
    /// rope_freqs.weight [head_dim / 2] of per-frequency divisors, or Phi-3's LongRoPE factors
    /// rope_factors_long/short.weight [rotary dims / 2]. Nothing for other models.
    static func ropeTensors(_ c: ModelConfig, template: ModelInput) -> [OutputTensor] {
        guard !template.isGGUF else { return [] }
        var named: [(String, [Float])] = []
        if let scaling = c.ropeScaling { named.append((ConfigKeys.ropeFreqs, scaling.divisors(headDim: c.headDim, theta: c.ropeTheta))) }
        if let r = c.longRope { named += [(Phi3LongRope.longTensor, r.longFactor), (Phi3LongRope.shortTensor, r.shortFactor)] }
        return named.map { name, values in
            OutputTensor(name: name, shape: [values.count], source: .computed { Tensor(shape: [values.count], data: values) })
        }
    }

    /// The type a tensor that is not copied is written in (before GGUF's block-size rule): `dtype` when given;
    /// else the stored type its source models agree on, if an HF folder can hold it; else F32.
    static func outputType(_ t: OutputTensor, _ options: OutputOptions) -> GGMLType {
        if let dtype = options.dtype { return dtype }
        let sources: [ModelInput] = switch t.source {
        case .copy(let input): [input]
        case .computed(let from, _): from
        }
        let types = Set(sources.compactMap { $0.stored(t.name)?.type })
        if types.count == 1, let type = types.first, Encode.safetensorsTypes.contains(type) { return type }
        return .f32
    }

    // MARK: HF folder

    static func writeFolder(_ tensors: [OutputTensor], template: ModelInput, tokenizer: ModelInput, options: OutputOptions,
                            provenance: [String: String], task: String, progress: (ProgressEvent) -> Void,
                            done: (String) -> Void) throws -> WriteSummary {
        // Llama 3's rope_freqs.weight goes back into config.json as the four parameters it was made from.
        var ropeScaling: Llama3RopeScaling?
        if template.isGGUF, let freqs = tensors.first(where: { $0.name == ConfigKeys.ropeFreqs }) {
            let c = template.config
            let divisors = try tensorValues(freqs)
            let factor = Double(divisors.max() ?? 1)
            var stated: Int?
            if case .gguf(let file) = template.files.source {
                stated = file.metadata["\(template.files.spec.ggufArchitecture).\(FamilyKeys.ropeScalingOriginalContext)"]?.int
            }
            guard let scaling = Llama3RopeScaling(divisors: divisors, headDim: c.headDim, theta: c.ropeTheta,
                                                  originalContext: stated ?? max(1, Int((Double(c.maxPositionEmbeddings) / factor).rounded()))) else {
                throw VaneError("\(template.url.path): the per-frequency divisors of \(ConfigKeys.ropeFreqs) are not Llama 3 scaling of any parameters, so config.json cannot state them",
                                hint: "start from the model's HF folder, or keep the output a .gguf")
            }
            ropeScaling = scaling
        }
        // RoPE tables are config.json settings there: rope_freqs (above) and LongRoPE's factors (Phi3LongRope).
        let tables = [ConfigKeys.ropeFreqs] + (template.config.longRope == nil ? [] : [Phi3LongRope.longTensor, Phi3LongRope.shortTensor])
        let tensors = tensors.filter { !tables.contains($0.name) }
        // Each HF tensor concatenates whole GGUF tensors (or slices of their outermost axis): one, a fused
        // tensor's parts, or one expert of a stacked tensor. It is copied byte for byte when every part can be.
        let hfTensors = try template.files.spec.hfTensors(fromGGUF: tensors.map { ($0.name, $0.shape) })
        func stored(_ part: HFTensor.Part) -> (ModelInput, StoredTensor)? {
            guard case .copy(let input) = tensors[part.index].source, let s = input.stored(tensors[part.index].name) else { return nil }
            return (input, s)
        }
        var entries: [TensorEntry] = []
        var copies: [Bool] = []
        var summary = WriteSummary()
        for h in hfTensors {
            let sources = h.parts.compactMap(stored)
            if !options.convertCopies, h.offset == 0, sources.count == h.parts.count, let type = sources.first?.1.type,
               sources.allSatisfy({ $0.1.type == type }), Encode.safetensorsTypes.contains(type) {
                entries.append(.init(name: h.name, type: type, shape: h.shape))
                copies.append(true)
                summary.copied[type, default: 0] += 1
            } else {
                let types = Set(h.parts.map { outputType(tensors[$0.index], options) })
                let type = types.count == 1 ? types.first! : .f32
                entries.append(.init(name: h.name, type: type, shape: h.shape))
                copies.append(false)
                if sources.count == h.parts.count { summary.reencoded[type, default: 0] += 1 } else { summary.computed[type, default: 0] += 1 }
            }
        }

        // Shards in tensor order, each up to shardSize bytes (a larger tensor gets a shard of its own).
        var shards: [Range<Int>] = []
        var start = 0, size = 0
        for (i, e) in entries.enumerated() {
            if i > start && size + e.byteCount > options.shardSize {
                shards.append(start..<i)
                start = i
                size = 0
            }
            size += e.byteCount
        }
        shards.append(start..<entries.count)
        let shardNames = shards.count == 1 ? ["model.safetensors"]
            : (1...shards.count).map { String(format: "model-%05d-of-%05d.safetensors", $0, shards.count) }

        // config.json's dtype: the type holding most of the weights.
        var elements: [GGMLType: Int] = [:]
        for e in entries { elements[e.type, default: 0] += e.shape.reduce(1, *) }
        let mainType = elements.max { ($0.value, $1.key.rawValue) < ($1.value, $0.key.rawValue) }?.key ?? .f32
        var files = try MetadataConvert.hfConfigFiles(of: template, dtype: mainType, ropeScaling: ropeScaling)
        files.removeAll { MetadataConvert.tokenizerFileNames.contains($0.name) }
        files += try MetadataConvert.hfTokenizerFiles(of: tokenizer)
        if shards.count > 1 {
            var weightMap: [String: String] = [:]
            for (s, range) in shards.enumerated() { for i in range { weightMap[entries[i].name] = shardNames[s] } }
            let total = entries.reduce(0) { $0 + $1.byteCount }
            let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
            files.append(("model.safetensors.index.json", try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])))
        }

        let totalBytes = entries.reduce(0) { $0 + $1.byteCount }
        var written = 0
        progress(ProgressEvent(task: task, done: 0, total: entries.count, bytes: 0, totalBytes: totalBytes))
        var metadata = ["format": "pt"]
        for (k, v) in provenance { metadata["vane.\(k)"] = v }
        var computed: (index: Int, values: [Float])?
        try FolderSwap.write(options.url) { dir in
            for (s, range) in shards.enumerated() {
                let shardEntries = Array(entries[range])
                try SafetensorsWriter.write(to: dir.appendingPathComponent(shardNames[s]), entries: shardEntries, metadata: metadata) { j, emit in
                    let i = range.lowerBound + j
                    let e = entries[i]
                    for part in hfTensors[i].parts {
                        let t = tensors[part.index]
                        if copies[i], let (input, stored) = stored(part) {
                            try checkShape(stored.shape, t)
                            let bytes = part.rows.map { outer($0, of: stored.bytes, count: t.shape[0]) } ?? stored.bytes
                            if let heads = input.permutedHeads(t.name) {
                                try QKLayout.rows(bytes, rows: t.shape[0], heads: heads, to: .hf, name: t.name).withUnsafeBytes(emit)
                            } else {
                                try emit(bytes)
                            }
                        } else {
                            // A stacked tensor is split over consecutive HF tensors: compute it once, not per expert.
                            if computed?.index != part.index { computed = (part.index, try tensorValues(t)) }
                            try computed!.values.withUnsafeBytes { all in
                                let slice = part.rows.map { outer($0, of: all, count: t.shape[0]) } ?? all
                                let values = Array(slice.bindMemory(to: Float.self))
                                // Values stored with an offset in GGUF (Gemma's norms) are written back without it.
                                try Encode.emit(hfTensors[i].offset == 0 ? values : values.map { $0 - hfTensors[i].offset },
                                                as: e.type, emit)
                            }
                        }
                        if part.rows.map({ $0.upperBound == t.shape[0] }) ?? true {
                            computed = nil
                            done(t.name)
                        }
                    }
                    written += e.byteCount
                    progress(ProgressEvent(task: task, done: i + 1, total: entries.count, bytes: written,
                                           totalBytes: totalBytes, note: e.name))
                }
            }
            for (name, data) in files { try data.write(to: dir.appendingPathComponent(name)) }
        }
        return summary
    }

    /// Slice `range` of the outermost axis (of `count`) of a tensor's bytes.
    static func outer(_ range: Range<Int>, of bytes: UnsafeRawBufferPointer, count: Int) -> UnsafeRawBufferPointer {
        let size = bytes.count / max(count, 1)
        return UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound * size)..<(range.upperBound * size)])
    }

    static func tensorValues(_ t: OutputTensor) throws -> [Float] {
        let tensor: Tensor
        switch t.source {
        case .copy(let input): tensor = try input.values(t.name)
        case .computed(_, let f): tensor = try f()
        }
        try checkShape(tensor.shape, t)
        return tensor.data
    }

    static func checkShape(_ shape: [Int], _ t: OutputTensor) throws {
        guard shape == t.shape else { throw VaneError("tensor \(t.name) has shape \(shape), expected \(t.shape)") }
    }
}

/// Writes a folder atomically: everything goes into a hidden sibling folder, which then takes the destination's
/// place. An existing destination is replaced only when it is a model folder (has config.json) or empty.
enum FolderSwap {
    static func write(_ url: URL, _ body: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = url.deletingLastPathComponent()
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: parent.path, isDirectory: &isDir), isDir.boolValue else {
            throw VaneError("cannot write \(url.path): folder \(parent.path) does not exist")
        }
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            let contents = (try? fm.contentsOfDirectory(atPath: url.path)) ?? []
            guard isDir.boolValue, contents.isEmpty || contents.contains("config.json") else {
                throw VaneError("\(url.path) exists and is not a model folder; refusing to replace it",
                                hint: "choose a new output path (a folder is created), or end it in .gguf for a GGUF file")
            }
        }
        let tmp = parent.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).partial")
        try? fm.removeItem(at: tmp)
        do {
            try fm.createDirectory(at: tmp, withIntermediateDirectories: false)
            try body(tmp)
            let old = parent.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).old")
            let replacing = fm.fileExists(atPath: url.path)
            if replacing { try fm.moveItem(at: url, to: old) }
            guard rename(tmp.path, url.path) == 0 else {
                let reason = String(cString: strerror(errno))
                if replacing { try? fm.moveItem(at: old, to: url) }
                throw VaneError("cannot rename \(tmp.path) to \(url.path): \(reason)")
            }
            if replacing { try? fm.removeItem(at: old) }
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
    }
}
