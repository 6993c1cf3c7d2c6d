import Foundation
import VaneModelIO

/// Which tensors a diff or merge touches: shell-style patterns (`*`, `?`, `[…]`, as fnmatch) matched against a
/// tensor's GGUF name (`blk.3.attn_q.weight`) and its HF name (`model.layers.3.self_attn.q_proj.weight`); a
/// pattern without wildcards matches any name containing it (`norm`, `embed`). With no includes every tensor is
/// included; excludes win.
public struct TensorFilter: Sendable, Equatable {
    public var include: [String]
    public var exclude: [String]

    public init(include: [String] = [], exclude: [String] = []) {
        self.include = include
        self.exclude = exclude
    }

    public static let all = TensorFilter()

    static func matches(_ pattern: String, _ name: String) -> Bool {
        if pattern.contains(where: { "*?[".contains($0) }) { return fnmatch(pattern, name, 0) == 0 }
        return name.contains(pattern)
    }

    /// Whether the filter takes `ggufName`, matched also by its HF name in `spec`.
    public func accepts(_ ggufName: String, in spec: ArchitectureSpec) -> Bool {
        let names = [ggufName] + (spec.hf(fromGGUF: ggufName).map { [$0] } ?? [])
        func any(_ patterns: [String]) -> Bool { patterns.contains { p in names.contains { Self.matches(p, $0) } } }
        return (include.isEmpty || any(include)) && !any(exclude)
    }
}
