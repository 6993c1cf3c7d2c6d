import Foundation

extension ActivationStore {
    /// A readable summary for `vane store info`: provenance, counts, and each dataset's shape.
    public func summary() throws -> String {
        let p = provenance
        let d = p.dims
        var lines: [String] = []
        func add(_ key: String, _ value: String) {
            lines.append(key.padding(toLength: 14, withPad: " ", startingAt: 0) + value)
        }
        lines.append("\(url.path): \(StoreLayout.format) v\(StoreLayout.formatVersion), written by vane \(p.tool) "
            + "\(p.vaneVersion) at \(p.created)")
        add("model", p.modelPath)
        if d.count == 6 {
            add("", "\(p.architecture), d \(d[0]), \(d[1]) layers, \(d[2]) heads (\(d[3]) kv) of \(d[4]), vocab \(d[5])")
        }
        add("", "sha256 \(p.modelSHA256)")
        add("tokenizer", p.tokenizer)
        add("chat template", p.chatTemplate.isEmpty ? "not used" : "used (\(p.chatTemplate.utf8.count) bytes, stored)")
        if !p.inputPath.isEmpty { add("input", "\(p.inputPath) (sha256 \(p.inputSHA256.prefix(16))…)") }
        if let shard = p.shard { add("shard", "\(shard) of the input's example lines (`vane store merge` joins the \(shard.count))") }
        add("positions", "\(p.positions) over span \(p.spanDescription)"
            + (p.skipFirst > 0 ? ", input positions 0..<\(p.skipFirst) left out (--skip-first \(p.skipFirst))" : ""))

        let e = examples
        let tokens = e.tokenCounts.reduce(0, +)
        var labelCounts: [Int: Int] = [:]
        for label in e.labels { labelCounts[label, default: 0] += 1 }
        let labels = labelCounts.keys.sorted().map { "\($0 == -1 ? "none" : "\($0)") ×\(labelCounts[$0] ?? 0)" }
        let pairs = Set(e.pairs.filter { $0 >= 0 }).count
        add("examples", "\(count)" + (labels.isEmpty ? "" : "; labels " + labels.joined(separator: ", "))
            + (pairs > 0 ? "; \(pairs) pair" + (pairs == 1 ? "" : "s") : ""))
        if count > 0 {
            add("tokens", "\(tokens) (min \(e.tokenCounts.min() ?? 0), mean "
                + String(format: "%.1f", Double(tokens) / Double(count)) + ", max \(e.tokenCounts.max() ?? 0)); "
                + "span tokens \(e.spans.reduce(0) { $0 + $1.count })")
        }
        add("hooks", "\(hooks.count) float32 dataset" + (hooks.count == 1 ? "" : "s") + (p.positions == .all ? ", rows indexed by /token_offsets" : ""))
        for hook in hooks {
            lines.append("  " + hook.padding(toLength: 34, withPad: " ", startingAt: 0) + "\(try shape(hook: hook))")
        }
        if let logits = try logits() { add("logits", "\(logits.shape)") }
        let bytes = (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
        add("storage", (p.deflate > 0 ? "deflate \(p.deflate)" : "uncompressed") + ", batch \(p.batch), "
            + String(format: "%.1f MB", Double(bytes) / 1e6))
        add("command", p.commandLine)
        return lines.joined(separator: "\n")
    }
}
