import Foundation
import VaneModelIO

/// Writes to standard error (progress and statistics), keeping standard output for results. On a terminal it
/// first clears the line, where a ProgressLine may be drawn; the progress redraws below at its next event.
func note(_ s: String) {
    fflush(nil)   // what was printed before comes first, also when both streams go to one pipe
    FileHandle.standardError.write(Data(((stderrIsTerminal ? "\r\u{1B}[K" : "") + s + "\n").utf8))
}

let stderrIsTerminal = isatty(2) == 1

/// The process's arguments as one shell-quoted line, for provenance: pasted into a shell, it runs the same command.
/// The only place that rebuilds the command line; libraries receive the string.
var commandLine: String {
    CommandLine.arguments.map { arg in
        arg.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) } && !arg.isEmpty
            ? arg : "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }.joined(separator: " ")
}

func formatBytes(_ n: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(n), i = 0
    while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
}

/// Refuses, before any work, an output that is one of the inputs (model names such as `smollm2` resolved) or
/// whose extension contradicts what is written (OutputPath).
/// Also refuses replacing a file of another kind (OutputPath.Kind; `writes` when the extension does not say it).
func checkOutput(_ output: String, inputs: [String], extensions: [String] = [], what: String = "the output",
                 writes: OutputPath.Kind? = nil) throws {
    let urls = inputs.map { (try? DefaultModel.resolve($0)) ?? URL(fileURLWithPath: $0) }
    try OutputPath.check(URL(fileURLWithPath: output), inputs: urls, extensions: extensions, what: what, writes: writes)
}

/// The case an enumerated option's value names, or an error naming the option and every valid value (not the
/// whole usage, which would bury them).
func choice<T: RawRepresentable & CaseIterable>(_ type: T.Type, _ value: String, _ option: String) throws -> T
where T.RawValue == String {
    guard let v = T(rawValue: value) else { throw badValue(option, value, T.allCases.map(\.rawValue).joined(separator: ", ")) }
    return v
}

/// An enumerated option given a value it does not take: names the option, the value and every valid one.
func badValue(_ option: String, _ value: String, _ valid: String) -> VaneError {
    VaneError("\(option) \(value): use one of \(valid)")
}

/// The one line every writing command ends with, on standard error (so it also shows in pipes, where progress
/// stays quiet): `[SUMMARY → PATH (SIZE)]`. A folder's size is the sum of its files.
func wrote(_ path: String, _ summary: String) {
    note("[\(summary) → \(path) (\(formatBytes(bytesOnDisk(path))))]")
}

func bytesOnDisk(_ path: String) -> Int {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: path, isDirectory: &isDir) else { return 0 }
    if !isDir.boolValue { return ((try? fm.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0 }
    let files = fm.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []
    return files.reduce(0) { $0 + (((try? fm.attributesOfItem(atPath: path + "/" + $1)[.size]) as? Int) ?? 0) }
}

/// "1 layer", "3 layers".
func plural(_ n: Int, _ noun: String, _ plural: String? = nil) -> String {
    "\(n) " + (n == 1 ? noun : plural ?? noun + "s")
}
