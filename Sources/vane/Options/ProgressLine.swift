import Foundation
import VaneModelIO

/// The CLI's one progress display, fed by the libraries' `progress:` callbacks:
///
///     merge [12/30] 40% 1.2 MB 85.0 MB/s ETA 0:02  blk.1.attn_q.weight
///     extract [96/512] 19% 2411 tok/s ETA 0:42
///
/// drawn on stderr, redrawn in place at most ten times a second, and only when stderr is a terminal, so pipes and
/// logs stay quiet. Rates and ETA count from the job's first event (a resumed run's earlier work is not in them).
/// Used on the thread that runs the command: the libraries call back on their caller's thread, so it is not Sendable
/// and needs no lock.
final class ProgressLine {
    private let enabled: Bool
    /// The job being drawn and its first event; nil between jobs.
    private var first: ProgressEvent?
    private var start = Date()
    private var lastDraw = Date.distantPast
    /// A line is on screen without its newline.
    private var open = false

    init(enabled: Bool = stderrIsTerminal) {
        self.enabled = enabled
    }

    /// An error that stops a job midway leaves the line open: end it, so the message starts on its own line.
    deinit {
        if open { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    func report(_ event: ProgressEvent) {
        guard enabled else { return }
        let now = Date()
        if first?.task != event.task {
            first = event
            start = now
        }
        let finished = event.done >= event.total
        guard finished || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let line = Self.line(event, first: first ?? event, seconds: now.timeIntervalSince(start))
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (finished ? "\n" : "")).utf8))
        open = !finished
        if finished { first = nil }
    }

    /// "task [done/total] pct amount rate ETA  note": rate and ETA once the job has moved, the time taken once it
    /// has finished.
    static func line(_ e: ProgressEvent, first: ProgressEvent, seconds: Double) -> String {
        func fraction(_ e: ProgressEvent) -> Double {
            if let bytes = e.bytes, let total = e.totalBytes, total > 0 { return Double(bytes) / Double(total) }
            return e.total > 0 ? Double(e.done) / Double(e.total) : 1
        }
        var parts = ["\(e.task) [\(e.done)/\(e.total)]", String(format: "%.0f%%", 100 * fraction(e))]
        if let bytes = e.bytes { parts.append(formatBytes(bytes)) }
        let progressed = fraction(e) - fraction(first), t = max(seconds, 1e-3)
        if progressed > 0 {
            if let bytes = e.bytes {
                parts.append(formatBytes(Int(Double(bytes - (first.bytes ?? 0)) / t)) + "/s")
            } else if let tokens = e.tokens {
                parts.append(String(format: "%.0f tok/s", Double(tokens - (first.tokens ?? 0)) / t))
            } else {
                parts.append(String(format: "%.2f/s", Double(e.done - first.done) / t))
            }
        }
        if e.done >= e.total {
            parts.append(seconds < 60 ? String(format: "in %.1f s", seconds) : "in " + clock(seconds))
        } else if progressed > 0 {
            parts.append("ETA " + clock(seconds * (1 - fraction(e)) / progressed))
        }
        return parts.joined(separator: " ") + (e.note.isEmpty ? "" : "  " + e.note)
    }

    /// 0:42, 12:05, 1:02:03.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
