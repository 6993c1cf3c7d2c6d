import CHDF5

/// Element types of Vane's datasets. Numbers are stored little-endian; strings as variable-length UTF-8.
public enum HDF5DataType: String, Sendable, CustomStringConvertible {
    case float32, int32, int64, string

    public var description: String { rawValue }

    /// Bytes per element in the file (a variable-length string is stored as a 16-byte heap reference), for
    /// sizing chunks.
    var elementBytes: Int {
        switch self {
        case .float32, .int32: 4
        case .int64: 8
        case .string: 16
        }
    }
}

/// Swift number types that map one-to-one onto a dataset element type: Float, Int32 and Int64.
public protocol HDF5Numeric: Sendable {
    static var hdf5DataType: HDF5DataType { get }
}

extension Float: HDF5Numeric { public static var hdf5DataType: HDF5DataType { .float32 } }
extension Int32: HDF5Numeric { public static var hdf5DataType: HDF5DataType { .int32 } }
extension Int64: HDF5Numeric { public static var hdf5DataType: HDF5DataType { .int64 } }

/// A dataset: an array of `dataType` elements of some shape, stored row-major; a row is one index on axis 0.
/// Reads and writes check the Swift element type against `dataType` (no silent conversion) and the element count
/// against the shape.
public final class HDF5Dataset {
    let handle: HDF5Handle
    public let dataType: HDF5DataType
    public let attributes: HDF5Attributes

    /// Absolute path inside the file.
    public var path: String { handle.path }

    init(openAt parent: HDF5Handle, name: String) throws {
        let location = parent.location(of: name)
        let id = try check("H5Dopen2", location) { H5Dopen2(parent.id, name, vane_H5P_DEFAULT()) }
        handle = HDF5Handle(id: id, file: parent.file, path: parent.childPath(name), close: H5Dclose)
        attributes = HDF5Attributes(handle)
        let type = try check("H5Dget_type", location) { H5Dget_type(id) }
        defer { unchecked { H5Tclose(type) } }
        dataType = try dataTypeOf(type, location)
        try checkStorage(type, location)
    }

    /// libhdf5 1.10 reads a contiguous or compact dataset by its extent without checking that its storage holds
    /// that much (newer releases refuse "invalid dataset size"): a damaged extent or layout made it copy past its
    /// buffers. Chunked datasets are read chunk by chunk, each checked by libhdf5.
    private func checkStorage(_ type: hid_t, _ location: String) throws {
        let creation = try check("H5Dget_create_plist", location) { H5Dget_create_plist(handle.id) }
        defer { unchecked { H5Pclose(creation) } }
        let layout = try check("H5Pget_layout", location) { H5Pget_layout(creation).rawValue }
        guard layout == H5D_CONTIGUOUS.rawValue || layout == H5D_COMPACT.rawValue else { return }
        let elementBytes = try typeSize(type, location)
        var need = elementBytes, overflow = false
        for n in try shape where !overflow { (need, overflow) = need.multipliedReportingOverflow(by: n) }
        let stored = Int(clamping: H5Dget_storage_size(handle.id))
        func damaged(_ what: String) -> VaneError {
            hdf5Error(operation: "open dataset", location: location, message: "\(what); the file is damaged")
        }
        // A contiguous dataset without an address is not allocated: libhdf5 returns fill values without reading.
        let offset = UInt64(H5Dget_offset(handle.id))
        if layout == H5D_CONTIGUOUS.rawValue, offset == UInt64.max { return }
        guard !overflow, stored >= need else {
            throw damaged("its shape \(try shape) of \(elementBytes)-byte elements needs \(need) bytes, but its storage holds \(stored)")
        }
        guard layout == H5D_CONTIGUOUS.rawValue else { return }
        let file = try check("H5Iget_file_id", location) { H5Iget_file_id(handle.id) }
        defer { unchecked { H5Fclose(file) } }
        var fileSize: hsize_t = 0
        try check("H5Fget_filesize", location) { H5Fget_filesize(file, &fileSize) }
        guard offset <= fileSize, UInt64(stored) <= fileSize - offset else {
            throw damaged("its \(stored) bytes at byte \(offset) lie past the end of the file (\(fileSize) bytes)")
        }
    }

    init(createAt parent: HDF5Handle, name: String, type: HDF5DataType, shape: [Int], chunkRows: Int?,
         deflate: Int?) throws {
        let location = parent.location(of: name)
        func refuse(_ message: String) -> VaneError {
            hdf5Error(operation: "create dataset", location: location, message: message)
        }
        guard let rows = shape.first else { throw refuse("shape must have rank ≥ 1 (axis 0 holds the rows)") }
        let rowShape = shape.dropFirst()
        guard rows >= 0, rowShape.allSatisfy({ $0 >= 1 }) else {
            throw refuse("shape \(shape): axis 0 must be ≥ 0 and the other axes ≥ 1")
        }
        let rowBytes = rowShape.reduce(type.elementBytes, *)
        let chunk = chunkRows ?? min(4096, max(1, (1 << 20) / rowBytes))
        guard chunk >= 1 else { throw refuse("chunkRows \(chunk) must be ≥ 1") }
        if let deflate, !(0...9).contains(deflate) { throw refuse("deflate level \(deflate) must be 0...9") }

        let dims = try hdf5Dims(shape, "create dataset", location)
        let maxDims = [vane_H5S_UNLIMITED()] + dims.dropFirst()
        let chunkDims = [hsize_t(chunk)] + dims.dropFirst()
        let space = try check("H5Screate_simple", location) { H5Screate_simple(Int32(dims.count), dims, maxDims) }
        defer { unchecked { H5Sclose(space) } }
        let creation = try check("H5Pcreate", location) { H5Pcreate(vane_H5P_DATASET_CREATE()) }
        defer { unchecked { H5Pclose(creation) } }
        try check("H5Pset_chunk", location) { H5Pset_chunk(creation, Int32(chunkDims.count), chunkDims) }
        if let deflate {
            try check("H5Pset_deflate", location) { H5Pset_deflate(creation, UInt32(deflate)) }
        }
        let linkCreation = try intermediateGroupsLinkList(location)
        defer { unchecked { H5Pclose(linkCreation) } }

        let create = { (fileType: () -> hid_t) in
            try check("H5Dcreate2", location) {
                H5Dcreate2(parent.id, name, fileType(), space, linkCreation, creation, vane_H5P_DEFAULT())
            }
        }
        let id = switch type {
        case .float32: try create(vane_H5T_IEEE_F32LE)
        case .int32: try create(vane_H5T_STD_I32LE)
        case .int64: try create(vane_H5T_STD_I64LE)
        case .string: try withVariableStringType(location) { stringType in try create { stringType } }
        }
        handle = HDF5Handle(id: id, file: parent.file, path: parent.childPath(name), close: H5Dclose)
        attributes = HDF5Attributes(handle)
        dataType = type
    }

    /// The current shape; axis 0 grows as rows are appended.
    public var shape: [Int] {
        get throws { try withSpace { try extent(ofSpace: $0, handle.location).current } }
    }

    /// The largest shape the dataset may grow to; nil marks an unlimited axis.
    public var maxShape: [Int?] {
        get throws { try withSpace { try extent(ofSpace: $0, handle.location).maximum } }
    }

    /// Rows per chunk and the chunk's other axes, or nil when the dataset is stored contiguously.
    public var chunkShape: [Int]? {
        get throws {
            let location = handle.location
            let creation = try check("H5Dget_create_plist", location) { H5Dget_create_plist(handle.id) }
            defer { unchecked { H5Pclose(creation) } }
            let layout = try check("H5Pget_layout", location) { H5Pget_layout(creation).rawValue }
            guard layout == H5D_CHUNKED.rawValue else { return nil }
            var dims = [hsize_t](repeating: 0, count: 32)
            let rank = try check("H5Pget_chunk", location) { H5Pget_chunk(creation, Int32(dims.count), &dims) }
            return dims.prefix(Int(rank)).map { Int($0) }
        }
    }

    // MARK: Writing

    /// Writes the whole dataset; `values` holds exactly as many elements as the current shape.
    public func write<T: HDF5Numeric>(_ values: [T]) throws {
        let memoryType = try nativeMemoryType(of: T.self, "write")
        try values.withUnsafeBytes { try write(count: values.count, memoryType: memoryType, $0.baseAddress) }
    }

    public func write(_ values: [String]) throws {
        try requireType(.string, "write")
        try withVariableStringType(handle.location) { memoryType in
            try withCStringPointers(values, "write", handle.location) {
                try write(count: values.count, memoryType: memoryType, $0)
            }
        }
    }

    /// Appends rows at the end of axis 0: `values` holds whole rows (a multiple of the product of the other
    /// axes), row-major.
    public func append<T: HDF5Numeric>(rows values: [T]) throws {
        let memoryType = try nativeMemoryType(of: T.self, "append")
        try values.withUnsafeBytes { try append(count: values.count, memoryType: memoryType, $0.baseAddress) }
    }

    public func append(rows values: [String]) throws {
        try requireType(.string, "append")
        try withVariableStringType(handle.location) { memoryType in
            try withCStringPointers(values, "append", handle.location) {
                try append(count: values.count, memoryType: memoryType, $0)
            }
        }
    }

    /// Shrinks axis 0 to `rows`, dropping the rows after it (to discard an unfinished batch before resuming).
    public func truncate(rows: Int) throws {
        var shape = try self.shape
        guard let current = shape.first, (0...current).contains(rows) else {
            throw hdf5Error(operation: "truncate", location: handle.location,
                            message: "cannot truncate shape \(shape) to \(rows) rows")
        }
        shape[0] = rows
        let dims = try hdf5Dims(shape, "truncate", handle.location)
        try check("H5Dset_extent", handle.location) { H5Dset_extent(handle.id, dims) }
    }

    private func write(count: Int, memoryType: hid_t, _ buffer: UnsafeRawPointer?) throws {
        let shape = try self.shape
        let expected = shape.reduce(1, *)
        guard count == expected else {
            throw hdf5Error(operation: "write", location: handle.location,
                            message: "\(count) values given for shape \(shape) (\(expected) elements)")
        }
        guard let buffer, count > 0 else { return }
        try check("H5Dwrite", handle.location) {
            H5Dwrite(handle.id, memoryType, vane_H5S_ALL(), vane_H5S_ALL(), vane_H5P_DEFAULT(), buffer)
        }
    }

    private func append(count: Int, memoryType: hid_t, _ buffer: UnsafeRawPointer?) throws {
        var shape = try self.shape
        let rowSize = shape.dropFirst().reduce(1, *)
        guard !shape.isEmpty, rowSize > 0, count % rowSize == 0 else {
            throw hdf5Error(operation: "append", location: handle.location,
                            message: "\(count) values are not whole rows of shape \(shape)")
        }
        guard let buffer, count > 0 else { return }
        let start = shape[0]
        shape[0] += count / rowSize
        let dims = try hdf5Dims(shape, "append", handle.location)
        try check("H5Dset_extent", handle.location) { H5Dset_extent(handle.id, dims) }
        do {
            try withRowSelection(start..<shape[0], shape: shape) { memorySpace, fileSpace, _ -> Void in
                try check("H5Dwrite", handle.location) {
                    H5Dwrite(handle.id, memoryType, memorySpace, fileSpace, vane_H5P_DEFAULT(), buffer)
                }
            }
        } catch {
            // Shrink back so that a failed append does not leave rows of fill values behind.
            var previous = dims
            previous[0] = hsize_t(start)
            unchecked { H5Dset_extent(handle.id, previous) }
            throw error
        }
    }

    // MARK: Reading

    /// Reads the whole dataset, row-major.
    public func read<T: HDF5Numeric>(as type: T.Type = T.self) throws -> [T] {
        try read(rows: nil)
    }

    /// Reads the rows `rows` of axis 0, row-major.
    public func read<T: HDF5Numeric>(rows: Range<Int>, as type: T.Type = T.self) throws -> [T] {
        try read(rows: Optional(rows))
    }

    public func read(as type: String.Type) throws -> [String] {
        try readStrings(rows: nil)
    }

    public func read(rows: Range<Int>, as type: String.Type) throws -> [String] {
        try readStrings(rows: Optional(rows))
    }

    private func read<T: HDF5Numeric>(rows: Range<Int>?) throws -> [T] {
        let memoryType = try nativeMemoryType(of: T.self, "read")
        return try withRowSelection(rows, shape: try shape) { memorySpace, fileSpace, count in
            try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                if let base = buffer.baseAddress, count > 0 {
                    try check("H5Dread", handle.location) {
                        H5Dread(handle.id, memoryType, memorySpace, fileSpace, vane_H5P_DEFAULT(), base)
                    }
                }
                initialized = count
            }
        }
    }

    private func readStrings(rows: Range<Int>?) throws -> [String] {
        try requireType(.string, "read")
        let type = try check("H5Dget_type", handle.location) { H5Dget_type(handle.id) }
        defer { unchecked { H5Tclose(type) } }
        return try withRowSelection(rows, shape: try shape) { memorySpace, fileSpace, count in
            try readStringElements(count: count, fileType: type, memorySpace: memorySpace, object: handle.id, "H5Dread",
                                  handle.location) { memoryType, buffer in
                H5Dread(handle.id, memoryType, memorySpace, fileSpace, vane_H5P_DEFAULT(), buffer)
            }
        }
    }

    // MARK: Helpers

    private func requireType(_ type: HDF5DataType, _ operation: String) throws {
        guard type == dataType else {
            throw hdf5Error(operation: operation, location: handle.location,
                            message: "dataset holds \(dataType), not \(type)")
        }
    }

    /// The native memory type for reading or writing this dataset's elements as T.
    private func nativeMemoryType<T: HDF5Numeric>(of _: T.Type, _ operation: String) throws -> hid_t {
        try requireType(T.hdf5DataType, operation)
        let nativeType: (() -> hid_t)? = switch dataType {
        case .float32 where MemoryLayout<T>.size == 4: vane_H5T_NATIVE_FLOAT
        case .int32 where MemoryLayout<T>.size == 4: vane_H5T_NATIVE_INT32
        case .int64 where MemoryLayout<T>.size == 8: vane_H5T_NATIVE_INT64
        default: nil
        }
        guard let nativeType else {
            throw hdf5Error(operation: operation, location: handle.location,
                            message: "\(T.self) cannot hold \(dataType) elements")
        }
        return try check("H5open", handle.location) { nativeType() }
    }

    private func withSpace<R>(_ body: (hid_t) throws -> R) throws -> R {
        let space = try check("H5Dget_space", handle.location) { H5Dget_space(handle.id) }
        defer { unchecked { H5Sclose(space) } }
        return try body(space)
    }

    /// Runs `body(memorySpace, fileSpace, elementCount)` for rows `rows` of a dataset of `shape` (all of it when
    /// nil): the file space selects those rows, the memory space is a dense array of them.
    private func withRowSelection<R>(_ rows: Range<Int>?, shape: [Int],
                                     _ body: (hid_t, hid_t, Int) throws -> R) throws -> R {
        let location = handle.location
        var count = shape
        var start = [hsize_t](repeating: 0, count: shape.count)
        if let rows {
            guard let total = shape.first, rows.lowerBound >= 0, rows.upperBound <= total else {
                throw hdf5Error(operation: "read", location: location,
                                message: "rows \(rows.lowerBound)..<\(rows.upperBound) outside shape \(shape)")
            }
            count[0] = rows.count
            start[0] = hsize_t(rows.lowerBound)
        }
        let countDims = try hdf5Dims(count, "select", location)
        return try withSpace { fileSpace in
            if rows != nil {
                try check("H5Sselect_hyperslab", location) {
                    H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, countDims, nil)
                }
            }
            let memorySpace = try check("H5Screate_simple", location) {
                countDims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(countDims.count), countDims, nil)
            }
            defer { unchecked { H5Sclose(memorySpace) } }
            return try body(memorySpace, fileSpace, count.reduce(1, *))
        }
    }
}

/// The Vane element type of a file datatype, or an error naming what the file holds instead.
private func dataTypeOf(_ type: hid_t, _ location: String) throws -> HDF5DataType {
    let typeClass = try check("H5Tget_class", location) { H5Tget_class(type).rawValue }
    let size = try typeSize(type, location)
    switch typeClass {
    case H5T_STRING.rawValue:
        return .string
    case H5T_FLOAT.rawValue where size == 4:
        return .float32
    case H5T_INTEGER.rawValue where size == 4 || size == 8:
        let sign = try check("H5Tget_sign", location) { H5Tget_sign(type).rawValue }
        if sign == H5T_SGN_2.rawValue { return size == 4 ? .int32 : .int64 }
    default:
        break
    }
    let names = [H5T_INTEGER.rawValue: "integer", H5T_FLOAT.rawValue: "float", H5T_STRING.rawValue: "string"]
    let name = names[typeClass] ?? "HDF5 class \(typeClass)"
    throw hdf5Error(operation: "open dataset", location: location,
                    message: "unsupported element type (\(name), \(size) bytes); "
                        + "Vane reads float32, int32, int64 and string datasets")
}
