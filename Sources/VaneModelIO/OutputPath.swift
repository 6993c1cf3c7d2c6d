import Foundation

/// Checks an output path before any work: it must not be one of the command's inputs (compared after resolving
/// symlinks, and by device and inode, so a hard link or `./x/../x` is caught too), must not hold an input inside
/// it, nor (when the output is a folder, which replaces what is there) lie inside an input folder, and its extension
/// must say what is written.
public enum OutputPath {
    /// Refuses `output` when it resolves to one of `inputs`, or when `extensions` (lowercased, without dots) is
    /// not empty and does not hold its extension. `what` names what is written ("an HDF5 activation store").
    public static func check(_ output: URL, inputs: [URL], extensions: [String] = [], what: String = "the output",
                             folder: Bool = false) throws {
        if !extensions.isEmpty, !extensions.contains(output.pathExtension.lowercased()) {
            let list = extensions.map { "." + $0 }.joined(separator: " or ")
            throw VaneError("\(output.path): \(what) is written here, but the name does not end in \(list)",
                            hint: "end the output's name in .\(extensions[0])")
        }
        let out = resolved(output)
        let outID = fileID(output)
        for input in inputs {
            let path = resolved(input)
            let same = out == path || (outID != nil && outID == fileID(input))
            if same || path.hasPrefix(out + "/") || (folder && out.hasPrefix(path + "/")) {
                throw VaneError("the output \(output.path) would overwrite the input \(input.path)",
                                hint: "write the result to another path")
            }
        }
    }

    private static func resolved(_ url: URL) -> String { url.standardizedFileURL.resolvingSymlinksInPath().path }

    /// (device, inode) of an existing file or folder, following symlinks.
    private static func fileID(_ url: URL) -> [UInt64]? {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return nil }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
    }
}
