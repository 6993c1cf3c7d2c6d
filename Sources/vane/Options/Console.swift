import Foundation

/// Writes to standard error (progress and statistics), keeping standard output for results.
func note(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// The command line as typed, for provenance.
var commandLine: String {
    CommandLine.arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
}

func formatBytes(_ n: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(n), i = 0
    while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
}
