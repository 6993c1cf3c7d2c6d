import CHDF5
import CHDF5Guard
import Foundation

/// An open HDF5 file. Its attributes are those of the root group.
///
/// Writing a file so that it is never seen half-made: create it under a temporary name with `.exclusive`, write,
/// `close()`, then rename. Writing so that an interrupted run keeps what it wrote: `flush()` after each batch;
/// the file on disk then holds every row appended before the flush, even if the process is killed.
public final class HDF5File {
    public enum CreateMode: Sendable {
        /// Replace a file that already exists.
        case truncate
        /// Fail if the file already exists.
        case exclusive
    }

    public enum AccessMode: Sendable {
        case readOnly
        case readWrite
    }

    public let url: URL
    public let root: HDF5Group
    private let handle: HDF5Handle

    public var attributes: HDF5Attributes { root.attributes }

    private init(url: URL, id: hid_t) throws {
        self.url = url
        handle = HDF5Handle(id: id, file: url.path, path: "/", close: H5Fclose)
        root = try HDF5Group(openAt: handle, name: "/")
    }

    public static func create(at url: URL, mode: CreateMode) throws -> HDF5File {
        let path = url.path
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw hdf5Error(operation: "create", location: path,
                            message: "directory \(directory) does not exist; create it first")
        }
        // Default file-access properties (the oldest compatible format, whose superblock has no "open for
        // writing" mark, so a file left by a killed writer opens as it was at its last flush) and the same file
        // driver as `open`: libhdf5 shares one handle between opens of a file only when their drivers match.
        let flags = mode == .truncate ? vane_H5F_ACC_TRUNC() : vane_H5F_ACC_EXCL()
        let fapl = try check("vane_h5_guarded_fapl", path) { vane_h5_guarded_fapl(1) }
        let id = try check("H5Fcreate", path, explain: explainLock) { H5Fcreate(path, flags, vane_H5P_DEFAULT(), fapl) }
        return try HDF5File(url: url, id: id)
    }

    public static func open(at url: URL, mode: AccessMode = .readOnly) throws -> HDF5File {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw hdf5Error(operation: "open", location: path, message: "no such file")
        }
        let flags = mode == .readOnly ? vane_H5F_ACC_RDONLY() : vane_H5F_ACC_RDWR()
        // libhdf5 only says it found no superblock signature; say what that means.
        func attempt(locking: Int32) throws -> hid_t {
            let fapl = try check("vane_h5_guarded_fapl", path) { vane_h5_guarded_fapl(locking) }
            return try check("H5Fopen", path, explain: {
                $0.contains("signature") ? "not an HDF5 file (\($0))" : explainLock($0)
            }) { H5Fopen(path, flags, fapl) }
        }
        let id: hid_t
        do {
            id = try attempt(locking: 1)
        } catch let e as VaneError where mode == .readOnly && e.message.contains("unable to lock file") {
            // Held elsewhere: by a writer, or by a copy of a finished writer's descriptor that a child process
            // started during the write still has. Vane renames files into place only when complete: read unlocked.
            id = try attempt(locking: 0)
        }
        return try HDF5File(url: url, id: id)
    }

    /// Writes all buffered data and metadata of the file to disk (H5Fflush, global scope).
    public func flush() throws {
        try check("H5Fflush", handle.location) { H5Fflush(handle.id, H5F_SCOPE_GLOBAL) }
    }

    /// Flushes and closes the file now, reporting failure; the object is unusable afterwards. Groups and datasets
    /// opened from it and still alive keep libhdf5's file open until they go away, but what they wrote is on disk.
    public func close() throws {
        guard handle.id >= 0 else { return }
        try flush()
        try root.handle.closeNow("H5Gclose")
        try handle.closeNow("H5Fclose")
    }
}

/// libhdf5's message for a write lock held elsewhere names only errno; say who holds it and what to do.
private func explainLock(_ message: String) -> String {
    guard message.contains("unable to lock file") else { return message }
    return "another process has it open for writing (\(message)); wait for it to finish, or stop it"
}
