import Foundation

/// "label [done/total] rate, ETA" on stderr, redrawn in place, only when stderr is a terminal.
public final class TaskProgress {
    let label: String
    let total: Int
    let enabled: Bool
    let start = Date()
    var done = 0
    var lastDraw = Date.distantPast

    public init(_ label: String, total: Int, enabled: Bool = isatty(2) == 1) {
        self.label = label
        self.total = total
        self.enabled = enabled
    }

    public var elapsed: Double { Date().timeIntervalSince(start) }

    public func advance(_ n: Int = 1, note: String = "") {
        done += n
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.2 || done == total else { return }
        lastDraw = Date()
        let rate = Double(done) / max(elapsed, 1e-3)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line = String(format: "\r\u{1B}[K%@ [%d/%d] %.2f/s, ETA %.0fs  %@", label, done, total, rate, eta, note)
        FileHandle.standardError.write(Data(line.utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
