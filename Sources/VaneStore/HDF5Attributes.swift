import CHDF5

/// The value of an attribute as Vane writes it: a scalar (scalar dataspace) or a 1-D array of strings
/// (variable-length UTF-8), 64-bit signed integers or 64-bit floats. Reading also accepts what other writers
/// store: any integer that fits Int64, any float, fixed-length strings, and empty (null-dataspace) arrays.
public enum HDF5AttributeValue: Equatable, Sendable, CustomStringConvertible {
    case string(String)
    case int64(Int64)
    case double(Double)
    case strings([String])
    case int64s([Int64])
    case doubles([Double])

    /// The kind of value, as error messages name it.
    public var kind: String {
        switch self {
        case .string: "string"
        case .int64: "int64"
        case .double: "double"
        case .strings: "[string]"
        case .int64s: "[int64]"
        case .doubles: "[double]"
        }
    }

    public var description: String {
        switch self {
        case .string(let value): "\"\(value)\""
        case .int64(let value): "\(value)"
        case .double(let value): "\(value)"
        case .strings(let value): "\(value)"
        case .int64s(let value): "\(value)"
        case .doubles(let value): "\(value)"
        }
    }
}

/// Swift values that can be stored as an attribute: String, Int64, Double, arrays of them, and
/// HDF5AttributeValue itself.
public protocol HDF5AttributeConvertible {
    var hdf5AttributeValue: HDF5AttributeValue { get }
    /// nil when the attribute holds another kind of value.
    init?(hdf5AttributeValue: HDF5AttributeValue)
}

/// Scalars whose arrays are attribute values too.
public protocol HDF5AttributeElement: HDF5AttributeConvertible {
    static func hdf5AttributeValue(ofArray elements: [Self]) -> HDF5AttributeValue
    static func elements(of value: HDF5AttributeValue) -> [Self]?
}

extension HDF5AttributeValue: HDF5AttributeConvertible {
    public var hdf5AttributeValue: HDF5AttributeValue { self }
    public init?(hdf5AttributeValue: HDF5AttributeValue) { self = hdf5AttributeValue }
}

extension String: HDF5AttributeElement {
    public var hdf5AttributeValue: HDF5AttributeValue { .string(self) }
    public init?(hdf5AttributeValue: HDF5AttributeValue) {
        guard case .string(let value) = hdf5AttributeValue else { return nil }
        self = value
    }
    public static func hdf5AttributeValue(ofArray elements: [String]) -> HDF5AttributeValue { .strings(elements) }
    public static func elements(of value: HDF5AttributeValue) -> [String]? {
        guard case .strings(let elements) = value else { return nil }
        return elements
    }
}

extension Int64: HDF5AttributeElement {
    public var hdf5AttributeValue: HDF5AttributeValue { .int64(self) }
    public init?(hdf5AttributeValue: HDF5AttributeValue) {
        guard case .int64(let value) = hdf5AttributeValue else { return nil }
        self = value
    }
    public static func hdf5AttributeValue(ofArray elements: [Int64]) -> HDF5AttributeValue { .int64s(elements) }
    public static func elements(of value: HDF5AttributeValue) -> [Int64]? {
        guard case .int64s(let elements) = value else { return nil }
        return elements
    }
}

extension Double: HDF5AttributeElement {
    public var hdf5AttributeValue: HDF5AttributeValue { .double(self) }
    public init?(hdf5AttributeValue: HDF5AttributeValue) {
        guard case .double(let value) = hdf5AttributeValue else { return nil }
        self = value
    }
    public static func hdf5AttributeValue(ofArray elements: [Double]) -> HDF5AttributeValue { .doubles(elements) }
    public static func elements(of value: HDF5AttributeValue) -> [Double]? {
        guard case .doubles(let elements) = value else { return nil }
        return elements
    }
}

extension Array: HDF5AttributeConvertible where Element: HDF5AttributeElement {
    public var hdf5AttributeValue: HDF5AttributeValue { Element.hdf5AttributeValue(ofArray: self) }
    public init?(hdf5AttributeValue: HDF5AttributeValue) {
        guard let elements = Element.elements(of: hdf5AttributeValue) else { return nil }
        self = elements
    }
}

/// The attributes of one file (its root group), group or dataset.
public final class HDF5Attributes {
    private let handle: HDF5Handle

    init(_ handle: HDF5Handle) {
        self.handle = handle
    }

    private func location(_ name: String) -> String { "\(handle.location)@\(name)" }

    /// Attribute names in name order.
    public func names() throws -> [String] {
        var names: [String] = []
        try withUnsafeMutablePointer(to: &names) { names -> Void in
            try check("H5Aiterate2", handle.location) {
                H5Aiterate2(handle.id, H5_INDEX_NAME, H5_ITER_INC, nil, { _, name, _, context in
                    guard let name, let context else { return -1 }
                    context.assumingMemoryBound(to: [String].self).pointee.append(String(cString: name))
                    return 0
                }, names)
            }
        }
        return names
    }

    public func contains(_ name: String) throws -> Bool {
        try check("H5Aexists", location(name)) { H5Aexists(handle.id, name) } > 0
    }

    /// Writes the attribute `name`, replacing one that exists.
    public func set<T: HDF5AttributeConvertible>(_ name: String, _ value: T) throws {
        let location = location(name)
        if try contains(name) {
            try check("H5Adelete", location) { H5Adelete(handle.id, name) }
        }
        switch value.hdf5AttributeValue {
        case .string(let string):
            try withVariableStringType(location) { type in
                try withCStringPointers([string], "set attribute", location) {
                    try create(name, count: nil, fileType: { type }, memoryType: { type }, $0)
                }
            }
        case .strings(let strings):
            try withVariableStringType(location) { type in
                try withCStringPointers(strings, "set attribute", location) {
                    try create(name, count: strings.count, fileType: { type }, memoryType: { type }, $0)
                }
            }
        case .int64(let number):
            try withUnsafeBytes(of: number) {
                try create(name, count: nil, fileType: vane_H5T_STD_I64LE, memoryType: vane_H5T_NATIVE_INT64,
                           $0.baseAddress)
            }
        case .int64s(let numbers):
            try numbers.withUnsafeBytes {
                try create(name, count: numbers.count, fileType: vane_H5T_STD_I64LE, memoryType: vane_H5T_NATIVE_INT64,
                           $0.baseAddress)
            }
        case .double(let number):
            try withUnsafeBytes(of: number) {
                try create(name, count: nil, fileType: vane_H5T_IEEE_F64LE, memoryType: vane_H5T_NATIVE_DOUBLE,
                           $0.baseAddress)
            }
        case .doubles(let numbers):
            try numbers.withUnsafeBytes {
                try create(name, count: numbers.count, fileType: vane_H5T_IEEE_F64LE,
                           memoryType: vane_H5T_NATIVE_DOUBLE, $0.baseAddress)
            }
        }
    }

    /// Reads the attribute `name` as the value `T` it was written from; an attribute of another kind is an error
    /// naming both.
    public func get<T: HDF5AttributeConvertible>(_ name: String, as type: T.Type = T.self) throws -> T {
        let value = try get(name)
        guard let typed = T(hdf5AttributeValue: value) else {
            throw hdf5Error(operation: "get attribute", location: location(name),
                            message: "attribute holds \(value.kind), not \(T.self)")
        }
        return typed
    }

    public func get(_ name: String) throws -> HDF5AttributeValue {
        let location = location(name)
        let attribute = try check("H5Aopen", location) { H5Aopen(handle.id, name, vane_H5P_DEFAULT()) }
        defer { unchecked { H5Aclose(attribute) } }
        let type = try check("H5Aget_type", location) { H5Aget_type(attribute) }
        defer { unchecked { H5Tclose(type) } }
        let space = try check("H5Aget_space", location) { H5Aget_space(attribute) }
        defer { unchecked { H5Sclose(space) } }

        let spaceClass = try check("H5Sget_simple_extent_type", location) { H5Sget_simple_extent_type(space).rawValue }
        let count: Int?  // nil: scalar
        switch spaceClass {
        case H5S_SCALAR.rawValue:
            count = nil
        case H5S_NULL.rawValue:
            count = 0
        default:
            let dims = try extent(ofSpace: space, location).current
            guard dims.count == 1 else {
                throw hdf5Error(operation: "get attribute", location: location,
                                message: "attribute has shape \(dims); Vane reads scalars and 1-D arrays")
            }
            count = dims[0]
        }
        let elements = count ?? 1
        // Attributes are metadata (Vane's hold at most a few thousand values); a damaged dataspace can declare
        // billions, which libhdf5 1.10 would try to convert.
        guard elements <= 1 << 20 else {
            throw hdf5Error(operation: "get attribute", location: location,
                            message: "attribute declares \(elements) values; Vane reads attributes of at most \(1 << 20)")
        }

        let typeClass = try check("H5Tget_class", location) { H5Tget_class(type).rawValue }
        switch typeClass {
        case H5T_STRING.rawValue:
            let strings = try readStringElements(count: elements, fileType: type, memorySpace: space,
                                                 object: attribute, "H5Aread", location) { memoryType, buffer in
                H5Aread(attribute, memoryType, buffer)
            }
            return count == nil ? .string(strings[0]) : .strings(strings)
        case H5T_INTEGER.rawValue:
            let unsigned = try check("H5Tget_sign", location) { H5Tget_sign(type).rawValue } == H5T_SGN_NONE.rawValue
            let size = try typeSize(type, location)
            guard !(unsigned && size >= 8) else {
                throw hdf5Error(operation: "get attribute", location: location,
                                message: "attribute holds unsigned \(size * 8)-bit integers, which may not fit Int64")
            }
            let numbers: [Int64] = try readNumbers(attribute, elements, vane_H5T_NATIVE_INT64, location)
            return count == nil ? .int64(numbers[0]) : .int64s(numbers)
        case H5T_FLOAT.rawValue:
            let numbers: [Double] = try readNumbers(attribute, elements, vane_H5T_NATIVE_DOUBLE, location)
            return count == nil ? .double(numbers[0]) : .doubles(numbers)
        default:
            throw hdf5Error(operation: "get attribute", location: location,
                            message: "attribute's HDF5 type class \(typeClass) is not a string, integer or float")
        }
    }

    /// Creates attribute `name` with a scalar (count nil) or 1-D dataspace and writes `buffer` into it.
    private func create(_ name: String, count: Int?, fileType: () -> hid_t, memoryType: () -> hid_t,
                        _ buffer: UnsafeRawPointer?) throws {
        let location = location(name)
        let space = try check("H5Screate", location) { () -> hid_t in
            guard let count else { return H5Screate(H5S_SCALAR) }
            var dims = [hsize_t(count)]
            return H5Screate_simple(1, &dims, nil)
        }
        defer { unchecked { H5Sclose(space) } }
        let attribute = try check("H5Acreate2", location) {
            H5Acreate2(handle.id, name, fileType(), space, vane_H5P_DEFAULT(), vane_H5P_DEFAULT())
        }
        defer { unchecked { H5Aclose(attribute) } }
        guard let buffer, count ?? 1 > 0 else { return }
        try check("H5Awrite", location) { H5Awrite(attribute, memoryType(), buffer) }
    }

    private func readNumbers<T>(_ attribute: hid_t, _ count: Int, _ memoryType: () -> hid_t,
                                _ location: String) throws -> [T] {
        try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress, count > 0 {
                try check("H5Aread", location) { H5Aread(attribute, memoryType(), base) }
            }
            initialized = count
        }
    }
}
