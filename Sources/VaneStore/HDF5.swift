import CHDF5
import Foundation
// VaneError comes from VaneCore; re-exported so that users of VaneStore alone can catch it.
@_exported import VaneCore

// A thin Swift layer over libhdf5 (C API, 1.10+), the storage of Vane's activation files.
//
// Every libhdf5 call goes through `check` (or `unchecked` for closes): it takes one process-wide lock, makes sure
// libhdf5 does not print its error stack, runs the call, and turns a negative return code into a thrown
// VaneError that names the operation, the file and object path, and libhdf5's own message.
//
// Threads: libhdf5 keeps global state and is only thread-safe when built so (Debian's is, Homebrew's is not), so
// the lock serialises all calls whatever the build. The wrapper types (HDF5File, HDF5Group, HDF5Dataset,
// HDF5Attributes) are deliberately not Sendable: one file and the objects opened from it belong to one isolation
// domain at a time, which Swift 6 checks at compile time.
//
// Object lifetime: each wrapper owns one libhdf5 identifier and closes it in deinit. Temporary identifiers
// (dataspaces, datatypes, property lists, attributes) are closed by `defer` in the function that opened them, so
// no identifier leaks on an error path. An open group or dataset keeps its file open in libhdf5 after the
// HDF5File object is gone.

/// A failed HDF5 operation: what was attempted (the libhdf5 function, e.g. "H5Dopen2", or Vane's operation, e.g.
/// "append"), on which file and object ("file path:object path"), and why (libhdf5's innermost message, or Vane's
/// own when the request itself was wrong).
func hdf5Error(operation: String, location: String, message: String) -> VaneError {
    VaneError("HDF5 \(operation) failed for \(location): \(message)")
}

private let libraryLock = NSLock()

/// Runs one libhdf5 call under the library lock; a negative result becomes an error carrying the innermost
/// message of libhdf5's error stack (read before anything else can touch the stack), passed through `explain`.
@discardableResult
func check<R: BinaryInteger>(_ operation: String, _ location: String, explain: (String) -> String = { $0 },
                             _ call: () -> R) throws -> R {
    libraryLock.lock()
    vane_h5_silence_error_printing()
    let result = call()
    guard result < 0 else {
        libraryLock.unlock()
        return result
    }
    var buffer = [CChar](repeating: 0, count: 512)
    vane_h5_innermost_error(&buffer, buffer.count)
    libraryLock.unlock()
    let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    throw hdf5Error(operation: operation, location: location,
                    message: text.isEmpty ? "libhdf5 returned \(result) without an error message" : explain(text))
}

/// Runs a libhdf5 call whose failure cannot be reported (a close or reclaim in defer or deinit).
func unchecked(_ call: () -> herr_t) {
    libraryLock.lock()
    vane_h5_silence_error_printing()
    _ = call()
    libraryLock.unlock()
}

/// One open file, group or dataset identifier, closed when the wrapper that owns it goes away.
final class HDF5Handle {
    private(set) var id: hid_t
    /// Path of the file on disk.
    let file: String
    /// Absolute path of the object inside the file ("/" for the root group).
    let path: String
    private let close: (hid_t) -> herr_t

    init(id: hid_t, file: String, path: String, close: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.file = file
        self.path = path
        self.close = close
    }

    var location: String { "\(file):\(path)" }

    /// Location of a child object, for error messages.
    func location(of name: String) -> String { "\(file):\(childPath(name))" }

    /// Absolute in-file path of `name` given relative to this object (absolute names are kept).
    func childPath(_ name: String) -> String {
        if name.hasPrefix("/") { return name }
        return path == "/" ? "/" + name : path + "/" + name
    }

    /// Closes now, reporting failure (libhdf5 writes pending metadata when the last handle of a file closes).
    func closeNow(_ operation: String) throws {
        guard id >= 0 else { return }
        let closing = id
        id = -1
        try check(operation, location) { close(closing) }
    }

    deinit {
        if id >= 0 { unchecked { close(id) } }
    }
}

/// HDF5 dimensions from Swift ones, rejecting negative sizes.
func hdf5Dims(_ dims: [Int], _ operation: String, _ location: String) throws -> [hsize_t] {
    try dims.map { dim in
        guard dim >= 0 else {
            throw hdf5Error(operation: operation, location: location, message: "negative dimension in \(dims)")
        }
        return hsize_t(dim)
    }
}

/// The current and maximum extent of a dataspace (both empty for a scalar one); nil marks an unlimited axis.
func extent(ofSpace space: hid_t, _ location: String) throws -> (current: [Int], maximum: [Int?]) {
    let rank = try check("H5Sget_simple_extent_ndims", location) { H5Sget_simple_extent_ndims(space) }
    var dims = [hsize_t](repeating: 0, count: Int(rank))
    var maxDims = [hsize_t](repeating: 0, count: Int(rank))
    try check("H5Sget_simple_extent_dims", location) { H5Sget_simple_extent_dims(space, &dims, &maxDims) }
    let unlimited = vane_H5S_UNLIMITED()
    let current = dims.compactMap { Int(exactly: $0) }
    guard current.count == dims.count else {
        throw hdf5Error(operation: "extent", location: location, message: "dimensions \(dims) exceed Int")
    }
    return (current, maxDims.map { $0 == unlimited ? nil : Int(exactly: $0) })
}

/// Bytes per element of a datatype (H5Tget_size reports failure as 0).
func typeSize(_ type: hid_t, _ location: String) throws -> Int {
    try check("H5Tget_size", location) { () -> Int in
        let size = H5Tget_size(type)
        return size == 0 ? -1 : Int(size)
    }
}
