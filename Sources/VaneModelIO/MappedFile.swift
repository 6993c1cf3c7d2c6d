import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. Tensors point straight into the mapping, so a multi-gigabyte model
/// costs address space, not RAM, until its pages are touched; the mapping lives until the last reference goes.
/// Unchecked Sendable only because the compiler cannot see that the raw pointer is to read-only memory.
public final class MappedFile: @unchecked Sendable {
    public let url: URL
    /// The file's bytes; valid as long as this object lives. Never written (the mapping is PROT_READ).
    public let bytes: UnsafeRawBufferPointer
    public var size: Int { bytes.count }

    public init(url: URL) throws {
        self.url = url
        let path = url.path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw ModelFileError(.cannotOpen, path: path, "cannot open: \(reason)")
        }
        defer { close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelFileError(.cannotOpen, path: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelFileError(.cannotOpen, path: path, "not a regular file (a directory?); expected a model file")
        }
        let size = Int(info.st_size)
        guard size > 0 else {
            throw ModelFileError(.cannotOpen, path: path, "the file is empty (0 bytes); was a download interrupted?")
        }
        // The descriptor may be closed once mapped: the mapping keeps its own reference to the file.
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw ModelFileError(.cannotOpen, path: path, "cannot mmap \(size) bytes: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
    }
}
