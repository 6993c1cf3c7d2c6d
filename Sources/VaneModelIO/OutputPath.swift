import Foundation

/// Checks an output path before any work: it must not be one of the command's inputs (compared after resolving
/// symlinks, and by device and inode, so a hard link or `./x/../x` is caught too), must not hold an input inside
/// it, nor (when the output is a folder, which replaces what is there) lie inside an input folder, its extension
/// must say what is written, and what is already there must be of the kind written (sniffed by its magic bytes),
/// so that a GGUF vector is never replaced by an HDF5 store, nor a model folder by a file.
public enum OutputPath {
    /// What a path holds, as far as replacing it goes.
    public enum Kind: String, Sendable, Equatable {
        case gguf = "a GGUF file"
        case hdf5 = "an HDF5 file"
        case safetensors = "a safetensors file"
        case npy = "a NumPy .npy file"
        /// Text or anything else not recognised: what SVG, JSON and JSON Lines outputs write.
        case other = "a file that is not GGUF, HDF5, safetensors or .npy"
        case modelFolder = "a model folder"
        /// `vane vector export --format npy-dir`: holds vector.json.
        case vectorFolder = "a vector folder (npy-dir)"
        case emptyFolder = "an empty folder"
        case folder = "a folder"

        var isFolder: Bool { [.modelFolder, .vectorFolder, .emptyFolder, .folder].contains(self) }

        /// The kind a file output with this extension writes.
        public init(extension ext: String) {
            switch ext.lowercased() {
            case "gguf": self = .gguf
            case "h5", "hdf5": self = .hdf5
            case "safetensors": self = .safetensors
            case "npy": self = .npy
            default: self = .other
            }
        }

        /// What `url` holds now; nil when nothing is there or it is an empty file (nothing to lose).
        public init?(sniffing url: URL) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { return nil }
            if isDir.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
                self = names.isEmpty ? .emptyFolder : names.contains("vector.json") ? .vectorFolder
                    : names.contains("config.json") || names.contains(where: { $0.hasSuffix(".safetensors") }) ? .modelFolder : .folder
                return
            }
            guard let h = FileHandle(forReadingAtPath: url.path) else { self = .other; return }
            defer { try? h.close() }
            let head = [UInt8]((try? h.read(upToCount: 16)) ?? Data())
            guard !head.isEmpty else { return nil }
            if head.starts(with: Array("GGUF".utf8)) { self = .gguf; return }
            if head.starts(with: [0x93] + Array("NUMPY".utf8)) { self = .npy; return }
            // HDF5's superblock signature sits at 0 or, after a user block, at 512, 1024, 2048, …
            let hdf5: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
            var offset: UInt64 = 0
            while offset <= 1 << 20 {
                try? h.seek(toOffset: offset)
                if let sig = try? h.read(upToCount: 8), [UInt8](sig) == hdf5 { self = .hdf5; return }
                offset = offset == 0 ? 512 : offset * 2
            }
            // safetensors: a little-endian u64 header length, then the JSON header.
            if head.count >= 9, head[8] == UInt8(ascii: "{"), head[0..<8].reversed().reduce(UInt64(0), { $0 << 8 | UInt64($1) }) < 100_000_000 {
                self = .safetensors
                return
            }
            self = .other
        }
    }

    /// Refuses `output` when it resolves to one of `inputs`, when `extensions` (lowercased, without dots) is not
    /// empty and does not hold its extension, or when what is there now is of another kind than `writes` (by
    /// default a model folder for `folder`, else the kind its extension says). `what` names what is written
    /// ("an HDF5 activation store").
    public static func check(_ output: URL, inputs: [URL], extensions: [String] = [], what: String = "the output",
                             folder: Bool = false, writes: Kind? = nil) throws {
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
        let kind = writes ?? (folder ? .modelFolder : Kind(extension: output.pathExtension))
        if let there = Kind(sniffing: output), there != kind, !(there == .emptyFolder && kind.isFolder) {
            throw VaneError("\(output.path) holds \(there.rawValue), which \(what) would replace",
                            hint: "write to another path, or remove \(output.lastPathComponent) first if it is no longer needed")
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
