import Foundation
import Synchronization
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
    /// Whether the bytes are a file's pages, which the kernel can drop and read again; anonymous memory
    /// (`init(copying:)`) would come back as zeros.
    public let fileBacked: Bool
    /// Ranges of this mapping rearranged for a kernel (weights repacked for fast products), by [start, count].
    private let rearranged = Mutex<[[Int]: UnsafeMutableRawPointer]>([:])

    public init(url: URL) throws {
        self.url = url
        let path = url.path
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; fstat below refuses it.
        let fd = open(path, O_RDONLY | O_NONBLOCK)
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
            let kind = (info.st_mode & S_IFMT) == S_IFDIR ? "a directory" : (info.st_mode & S_IFMT) == S_IFIFO ? "a FIFO" : "a special file"
            throw ModelFileError(.cannotOpen, path: path, "not a regular file (\(kind)); expected a model file")
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
        fileBacked = true
    }

    /// Anonymous read-only memory holding `parts` back to back (stacked expert tensors assembled at load), labelled
    /// `url` for messages.
    public init(copying parts: [UnsafeRawBufferPointer], url: URL) throws {
        self.url = url
        let size = max(parts.reduce(0) { $0 + $1.count }, 1)
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
            throw VaneError("cannot allocate \(size) bytes for \(url.path): \(String(cString: strerror(errno)))")
        }
        var offset = 0
        for p in parts {
            UnsafeMutableRawBufferPointer(start: base + offset, count: p.count).copyMemory(from: p)
            offset += p.count
        }
        mprotect(base, size, PROT_READ)
        bytes = UnsafeRawBufferPointer(start: base, count: size)
        fileBacked = false
    }

    deinit {
        rearranged.withLock { for p in $0.values { p.deallocate() } }
        munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
    }

    /// A copy of `range` (inside this mapping) rearranged by `fill`, made on the first call for that range and kept
    /// as long as the mapping; later calls return it (one rearrangement per range: a second layout would need a key). `fill` may drop the pages it has read (`dropPages`), so that
    /// the copy takes their place in memory rather than adding to it.
    public func rearranged(_ range: UnsafeRawBufferPointer, fill: (UnsafeMutableRawPointer) -> Void) -> UnsafeRawPointer {
        rearranged.withLock { copies in
            let key = [Int(bitPattern: range.baseAddress), range.count]
            if let p = copies[key] { return UnsafeRawPointer(p) }
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(range.count, 1), alignment: 64)
            fill(p)
            copies[key] = p
            return UnsafeRawPointer(p)
        }
    }

    /// madvise(DONTNEED) over the whole pages spanning `range` of a file mapping: resident pages are dropped and
    /// read from the file again if touched (pages shared with a neighbouring tensor included). Anonymous memory
    /// (`init(copying:)`) would come back as zeros, so it is left alone.
    public func dropPages(_ range: UnsafeRawBufferPointer) {
        guard fileBacked, let base = range.baseAddress, range.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base) / page * page
        let end = (Int(bitPattern: base) + range.count + page - 1) / page * page
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, Int32(MADV_DONTNEED))
    }
}
