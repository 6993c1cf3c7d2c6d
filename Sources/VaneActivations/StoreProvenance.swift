import Foundation
import VaneStore

/// The root attributes of a store (see StoreLayout.swift): how it was made, and the settings `--resume` checks.
public struct StoreProvenance: Equatable, Sendable {
    public var tool: String
    public var modelPath: String
    public var modelSHA256: String
    public var architecture: String
    /// [hidden_size, layers, heads, kv_heads, head_dim, vocab_size]
    public var dims: [Int]
    public var tokenizer: String
    /// The chat template text used to render `messages` examples; "" when none was used.
    public var chatTemplate: String
    public var hooks: [String]
    public var positions: PositionMode
    public var span: SpanRule
    /// Input positions 0..<skipFirst left out of every span (the attention sink for `mean`); 0 in stores written
    /// before the attribute existed.
    public var skipFirst: Int
    public var inputPath: String
    public var inputSHA256: String
    public var batch: Int
    /// Deflate level, 0 for none.
    public var deflate: Int
    public var commandLine: String
    /// The part of the input this store holds when it was extracted with `--shard K/N`; nil for the whole input.
    public var shard: Shard?
    public var vaneVersion: String
    public var created: String

    public init(tool: String, modelPath: String, modelSHA256: String, architecture: String, dims: [Int],
                tokenizer: String, chatTemplate: String, hooks: [String], positions: PositionMode, span: SpanRule,
                skipFirst: Int = 0, inputPath: String, inputSHA256: String, batch: Int, deflate: Int, commandLine: String,
                shard: Shard? = nil, vaneVersion: String = VaneVersion.current, created: String = ISO8601DateFormatter().string(from: Date())) {
        self.tool = tool
        self.modelPath = modelPath
        self.modelSHA256 = modelSHA256
        self.architecture = architecture
        self.dims = dims
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        self.hooks = hooks
        self.positions = positions
        self.span = span
        self.skipFirst = skipFirst
        self.inputPath = inputPath
        self.inputSHA256 = inputSHA256
        self.batch = batch
        self.deflate = deflate
        self.commandLine = commandLine
        self.shard = shard
        self.vaneVersion = vaneVersion
        self.created = created
    }

    /// Settings that must match for `--resume` to continue a run, as (name, value) pairs; a difference names the
    /// setting.
    var resumeSettings: [(String, String)] {
        [("model_sha256", modelSHA256), ("hooks", hooks.joined(separator: ",")), ("positions", "\(positions)"),
         ("span", spanDescription), ("skip_first", "\(skipFirst)"), ("input_sha256", inputSHA256), ("batch", "\(batch)"), ("deflate", "\(deflate)"),
         ("chat_template", chatTemplate), ("tokenizer", tokenizer), ("shard", shard?.description ?? "none")]
    }

    /// Settings that shards of one input must share to be merged (the chat template is compared apart: a shard
    /// whose lines hold no `messages` used none), as (attribute, value) pairs.
    var mergeSettings: [(String, String)] {
        [("model_sha256", modelSHA256), ("architecture", architecture), ("dims", "\(dims)"), ("tokenizer", tokenizer),
         ("hooks", hooks.joined(separator: ",")), ("positions", "\(positions)"), ("span", spanDescription),
         ("skip_first", "\(skipFirst)"), ("input_sha256", inputSHA256), ("shard count", "\(shard?.count ?? 0)")]
    }

    /// Throws unless a run with `other`'s settings may continue this store, naming the first setting that differs.
    public func checkResumable(as other: StoreProvenance, url: URL) throws {
        for ((name, old), (_, new)) in zip(resumeSettings, other.resumeSettings) where old != new {
            let shown = { (s: String) in s.count > 80 ? String(s.prefix(77)) + "…" : s }
            throw VaneError("cannot resume \(url.path): it was made with \(name) \(shown(old)), this run has "
                + "\(shown(new)); rerun with the original settings, or delete the file to start over")
        }
    }

    var spanDescription: String {
        if case .markers(let start, let end) = span { return "markers \(start) … \(end)" }
        return "\(span)"
    }

    func write(to attributes: HDF5Attributes) throws {
        try attributes.set("format", StoreLayout.format)
        try attributes.set("format_version", StoreLayout.formatVersion)
        try attributes.set("tool", tool)
        try attributes.set("model_path", modelPath)
        try attributes.set("model_sha256", modelSHA256)
        try attributes.set("architecture", architecture)
        try attributes.set("dims", dims.map(Int64.init))
        try attributes.set("tokenizer", tokenizer)
        try attributes.set("chat_template", chatTemplate)
        try attributes.set("hooks", hooks)
        try attributes.set("positions", "\(positions)")
        try attributes.set("span", "\(span)")
        if case .markers(let start, let end) = span {
            try attributes.set("span_markers", [start, end])
        } else {
            try attributes.set("span_markers", [String]())
        }
        try attributes.set("skip_first", Int64(skipFirst))
        try attributes.set("input_path", inputPath)
        try attributes.set("input_sha256", inputSHA256)
        try attributes.set("batch", Int64(batch))
        try attributes.set("deflate", Int64(deflate))
        try attributes.set("command_line", commandLine)
        if let shard { try attributes.set("shard", [Int64(shard.index), Int64(shard.count)]) }
        try attributes.set("vane_version", vaneVersion)
        try attributes.set("created", created)
    }

    init(reading attributes: HDF5Attributes, file: String) throws {
        func bad(_ what: String) -> VaneError {
            VaneError("\(file): \(what); not an activation store written by `vane extract` or `vane trace -o X.h5`")
        }
        guard try attributes.contains("format"), try attributes.get("format", as: String.self) == StoreLayout.format
        else { throw bad("no root attribute format = \"\(StoreLayout.format)\"") }
        let version = try attributes.get("format_version", as: Int64.self)
        guard version == StoreLayout.formatVersion else {
            throw VaneError("\(file): store format version \(version); this Vane reads version "
                + "\(StoreLayout.formatVersion) — use the Vane that wrote it, or extract again")
        }
        func string(_ name: String) throws -> String { try attributes.get(name, as: String.self) }
        func int(_ name: String) throws -> Int { Int(try attributes.get(name, as: Int64.self)) }
        guard let positions = PositionMode(try string("positions")) else { throw bad("unknown positions mode") }
        var shard: Shard?
        if try attributes.contains("shard") {
            let value = try attributes.get("shard", as: [Int64].self)
            guard value.count == 2, let k = Int(exactly: value[0]), let n = Int(exactly: value[1]),
                  let parsed = try? Shard(index: k, count: n) else {
                throw bad("root attribute shard is \(value); expected [K, N] with 1 ≤ K ≤ N")
            }
            shard = parsed
        }
        let markers = try attributes.get("span_markers", as: [String].self)
        let span: SpanRule
        if try string("span") == "markers", markers.count == 2 {
            span = .markers(start: markers[0], end: markers[1])
        } else if let rule = SpanRule(try string("span")) {
            span = rule
        } else {
            throw bad("unknown span rule")
        }
        self.init(tool: try string("tool"), modelPath: try string("model_path"), modelSHA256: try string("model_sha256"),
                  architecture: try string("architecture"),
                  dims: try attributes.get("dims", as: [Int64].self).map { Int($0) },
                  tokenizer: try string("tokenizer"), chatTemplate: try string("chat_template"),
                  hooks: try attributes.get("hooks", as: [String].self), positions: positions, span: span,
                  skipFirst: try attributes.contains("skip_first") ? try int("skip_first") : 0,
                  inputPath: try string("input_path"), inputSHA256: try string("input_sha256"),
                  batch: try int("batch"), deflate: try int("deflate"), commandLine: try string("command_line"),
                  shard: shard, vaneVersion: try string("vane_version"), created: try string("created"))
    }
}
