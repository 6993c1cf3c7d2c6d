import Foundation

/// Progress over tensors and bytes on stderr, redrawn in place — only when stderr is a terminal, so pipes and
/// logs stay quiet.
public final class Progress: @unchecked Sendable {
    let label: String
    let totalTensors: Int
    let totalBytes: Int
    let enabled: Bool
    let start = Date()
    var tensors = 0
    var bytes = 0
    var lastDraw = Date.distantPast

    public init(_ label: String, tensors: Int, bytes: Int, enabled: Bool = isatty(2) == 1) {
        self.label = label
        self.totalTensors = tensors
        self.totalBytes = bytes
        self.enabled = enabled
    }

    /// Seconds since the progress began.
    public var elapsed: Double { Date().timeIntervalSince(start) }

    public func advance(bytes n: Int, name: String) {
        tensors += 1
        bytes += n
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 || tensors == totalTensors else { return }
        lastDraw = Date()
        let mb = Double(bytes) / 1e6
        let rate = mb / max(elapsed, 1e-3)
        let pct = totalBytes > 0 ? 100 * Double(bytes) / Double(totalBytes) : 100
        let line = String(format: "\r\u{1B}[K%@ [%d/%d] %.0f%% %.0f MB, %.0f MB/s  %@", label, tensors, totalTensors, pct, mb, rate, name)
        FileHandle.standardError.write(Data(line.utf8))
        if tensors == totalTensors { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
