import Foundation
// Every importer of VaneModelIO throws and catches VaneError, which lives in VaneCore so VaneStore can share it.
@_exported import VaneCore

/// A model file (GGUF, safetensors, a sharded index) that cannot be read as it claims to be. The message says what
/// was wrong and, where the file allows, at which byte; `kind` lets callers and tests tell problems apart.
public struct ModelFileError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Missing, unreadable, a directory, or empty.
        case cannotOpen
        case badMagic
        case unsupportedVersion
        /// The file ends before a structure it declares.
        case truncated
        /// A header field holds a value the format does not allow (value type id, dims, JSON, dtype, …).
        case badHeader
        case unsupportedType
        /// A tensor's shape, size or data range disagrees with its type or with the file.
        case badTensor
        /// A sharded folder whose index disagrees with its shards.
        case badIndex
    }

    public let kind: Kind
    public let path: String
    /// Byte offset in the file where the problem was found, when it has one.
    public let offset: Int?
    public let message: String

    public init(_ kind: Kind, path: String, offset: Int? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.offset = offset
        self.message = message
    }

    public var description: String {
        "\(path)\(offset.map { " (byte \($0))" } ?? ""): \(message)"
    }

    public var errorDescription: String? { description }
}
