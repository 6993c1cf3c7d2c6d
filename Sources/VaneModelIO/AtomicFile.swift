import Foundation

/// Writes a file so that readers see either nothing or the whole of it: bytes go to a hidden temporary file in
/// the destination folder, which is renamed over the destination once complete and synced.
public enum AtomicFile {
    /// Calls `body` with a handle on a temporary file beside `url`, then renames it to `url`. On error the
    /// temporary file is removed and `url` is left as it was.
    public static func write(_ url: URL, _ body: (FileHandle) throws -> Void) throws {
        let dir = url.deletingLastPathComponent()
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw VaneError("cannot write \(url.path): folder \(dir.path) does not exist")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).partial")
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw VaneError("cannot write \(url.path): folder \(dir.path) is not writable")
        }
        do {
            let handle = try FileHandle(forWritingTo: tmp)
            defer { try? handle.close() }
            try body(handle)
            try handle.synchronize()
            guard rename(tmp.path, url.path) == 0 else {
                throw VaneError("cannot rename \(tmp.path) to \(url.path): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }
}
