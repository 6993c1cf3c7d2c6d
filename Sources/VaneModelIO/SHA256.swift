import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SHA-256 as lowercase hex, for the provenance of models, vectors and inputs. swift-crypto does the hashing
/// (BoringSSL with SHA-NI / ARMv8 SHA instructions where the CPU has them, CryptoKit on Apple platforms).
/// A model's identity is defined in ModelIdentity.swift.
public enum SHA256 {
    /// The digest of a file's bytes.
    public static func hex(ofFile url: URL) throws -> String {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw VaneError("cannot open \(url.path) to hash it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        return try hex(ofDescriptor: fd, path: url.path)
    }

    public static func hex(of data: Data) -> String { hex(Crypto.SHA256.hash(data: data)) }

    /// Reads the file in 4 MiB pieces through one buffer rather than mapping it: memory stays flat however large
    /// the file, and the pages read stay in the page cache for the model load that usually follows.
    static func hex(ofDescriptor fd: Int32, path: String) throws -> String {
        var hasher = Crypto.SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw VaneError("cannot read \(path) to hash it: \(String(cString: strerror(errno)))")
            }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
        return hex(hasher.finalize())
    }

    private static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest { out += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }
}
