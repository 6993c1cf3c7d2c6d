import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// A model's identity: the one sha256 that says which weights a result was made from. Activation stores record it
// as model_sha256, control vectors as vane.model_sha256 (steering refuses a vector whose value differs), task
// vectors as vane.a_sha256 / vane.b_sha256, baked edits as vane.edit.source_sha256, the efficiency recipe in its
// settings.
//
//   .gguf file   sha256 of the file's bytes (what `sha256sum model.gguf` prints)
//   HF folder    sha256 of the lowercase hex sha256 digests of config.json and then of each safetensors shard the
//                model reads (model.safetensors, or the shards model.safetensors.index.json names) in name
//                order, joined by "\n" with no trailing newline
//
// In Python, for a folder:
//     digests = [hashlib.sha256(open(f"{folder}/{name}", "rb").read()).hexdigest()
//                for name in ["config.json"] + sorted(shards)]
//     hashlib.sha256("\n".join(digests).encode()).hexdigest()
//
// config.json takes part because the same tensors under another config are another model. Other files in the
// folder do not: tokenizer files, the index, and stray .safetensors files the index does not name.
//
// Hashing a multi-gigabyte model takes seconds, so a process hashes each file once: the digest is kept under the
// file's device, inode, size and modification time, and a file that changed since is hashed again.

/// What a control vector is checked against: the model's shape, and its identity (above), computed on demand.
public struct ModelIdentity: Sendable {
    public var name: String
    public var url: URL
    public var architecture: String
    public var hiddenSize: Int
    public var layers: Int
    /// config.json and the shards in name order; nil for a .gguf file.
    private let folderParts: [URL]?

    public init(files: ModelFiles) {
        name = files.url.lastPathComponent
        url = files.url
        architecture = files.config.architecture
        hiddenSize = files.config.hiddenSize
        layers = files.config.numHiddenLayers
        switch files.source {
        case .gguf:
            folderParts = nil
        case .hfFolder(let folder, let shards):
            folderParts = [folder.appendingPathComponent("config.json")]
                + shards.map(\.url).sorted { $0.lastPathComponent < $1.lastPathComponent }
        }
    }

    public func sha256() throws -> String {
        guard let folderParts else { return try FileDigests.shared.hex(ofFile: url) }
        let digests = try folderParts.map { try FileDigests.shared.hex(ofFile: $0) }
        return SHA256.hex(of: Data(digests.joined(separator: "\n").utf8))
    }
}

/// File digests computed in this process. The lock is held while hashing so that two threads asking for the same
/// model hash it once; nothing else in Vane hashes models concurrently.
private final class FileDigests: @unchecked Sendable {
    static let shared = FileDigests()

    private struct Key: Hashable {
        var device: UInt64, inode: UInt64, size: Int64, modifiedSeconds: Int, modifiedNanoseconds: Int
    }

    private let lock = NSLock()
    private var digests: [Key: String] = [:]

    /// The key is read from the descriptor that is hashed, so it describes the bytes the digest is of.
    func hex(ofFile url: URL) throws -> String {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw VaneError("cannot open \(url.path) to hash it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw VaneError("cannot stat \(url.path): \(String(cString: strerror(errno)))") }
        #if canImport(Darwin)
        let modified = info.st_mtimespec
        #else
        let modified = info.st_mtim
        #endif
        let key = Key(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                      modifiedSeconds: Int(modified.tv_sec), modifiedNanoseconds: Int(modified.tv_nsec))
        return try lock.withLock {
            if let known = digests[key] { return known }
            let digest = try SHA256.hex(ofDescriptor: fd, path: url.path)
            digests[key] = digest
            return digest
        }
    }
}
