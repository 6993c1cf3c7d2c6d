import CHDF5
import CHDF5Guard

// Strings in HDF5 files. Vane writes variable-length UTF-8 strings (as h5py does for Python str): in memory an
// element is a `char *` to a NUL-terminated string, which libhdf5 allocates on read and
// `vane_h5_reclaim` frees.
// Files from elsewhere may also hold fixed-length strings: `size` bytes per element, NUL- or space-padded.
// Text must be valid UTF-8 (ASCII is); a C string cannot hold NUL, so such text is refused rather than cut.

/// Runs `body` with a fresh variable-length UTF-8 string datatype.
func withVariableStringType<R>(_ location: String, _ body: (hid_t) throws -> R) throws -> R {
    let type = try check("H5Tcopy", location) { H5Tcopy(vane_H5T_C_S1()) }
    defer { unchecked { H5Tclose(type) } }
    try check("H5Tset_size", location) { H5Tset_size(type, vane_H5T_VARIABLE()) }
    try check("H5Tset_cset", location) { H5Tset_cset(type, H5T_CSET_UTF8) }
    return try body(type)
}

/// Runs `body` with a buffer of `char *`, one per string, as libhdf5 expects for variable-length strings.
func withCStringPointers<R>(_ strings: [String], _ operation: String, _ location: String,
                            _ body: (UnsafeRawPointer?) throws -> R) throws -> R {
    var storage: [CChar] = []
    var offsets: [Int] = []
    for (index, string) in strings.enumerated() {
        guard !string.utf8.contains(0) else {
            throw hdf5Error(operation: operation, location: location,
                            message: "string \(index) contains a NUL character, which HDF5 strings cannot hold")
        }
        offsets.append(storage.count)
        storage.append(contentsOf: string.utf8.map { CChar(bitPattern: $0) })
        storage.append(0)
    }
    return try storage.withUnsafeBufferPointer { chars in
        let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in chars.baseAddress.map { $0 + offset } }
        return try pointers.withUnsafeBytes { try body($0.baseAddress) }
    }
}

/// Reads `count` strings of datatype `fileType` from `object` (an attribute or dataset): `read(memoryType, buffer)`
/// performs the H5Dread / H5Aread into a buffer laid out as `memorySpace` describes. Variable-length strings'
/// heap references are read raw and checked first (heap_guard.c says why).
func readStringElements(count: Int, fileType: hid_t, memorySpace: hid_t, object: hid_t, _ operation: String,
                        _ location: String, read: (hid_t, UnsafeMutableRawPointer) -> herr_t) throws -> [String] {
    let memoryType = try check("H5Tget_native_type", location) { H5Tget_native_type(fileType, H5T_DIR_DEFAULT) }
    defer { unchecked { H5Tclose(memoryType) } }
    let variable = try check("H5Tis_variable_str", location) { H5Tis_variable_str(memoryType) } > 0
    guard count > 0 else { return [] }

    if variable {
        // libhdf5 copies length × character size bytes per string; a damaged type can declare gigabytes per character.
        let character = try check("H5Tget_super", location) { H5Tget_super(fileType) }
        defer { unchecked { H5Tclose(character) } }
        let characterSize = try typeSize(character, location)
        guard characterSize == 1 else {
            throw hdf5Error(operation: operation, location: location,
                            message: "variable-length strings of \(characterSize)-byte characters; strings have 1-byte characters (a damaged datatype?)")
        }
        try checkHeapReferences(count: count, object: object, operation, location, read: read)
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        return try pointers.withUnsafeMutableBufferPointer { elements in
            guard let base = elements.baseAddress else { return [] }
            // Frees whatever libhdf5 allocated, also when the read failed part way.
            defer { unchecked { vane_h5_reclaim(memoryType, memorySpace, base) } }
            try check(operation, location) { read(memoryType, base) }
            return try elements.enumerated().map { index, pointer in
                guard let pointer else { return "" }
                return try decodeUTF8(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)),
                                      element: index, operation, location)
            }
        }
    }

    let size = try typeSize(memoryType, location)
    // A damaged datatype can declare gigabytes per string; libhdf5 1.10 would allocate and copy them.
    guard size <= maxFixedStringBytes, count <= maxFixedStringBytes * 256 / size else {
        throw hdf5Error(operation: operation, location: location,
                        message: "\(count) fixed-length strings of \(size) bytes each; Vane reads strings of at most "
                            + "\(maxFixedStringBytes) bytes, \(maxFixedStringBytes * 256) bytes in one read (a damaged datatype?)")
    }
    let padding = try check("H5Tget_strpad", location) { H5Tget_strpad(memoryType).rawValue }
    let spacePadded = padding == H5T_STR_SPACEPAD.rawValue
    var bytes = [UInt8](repeating: 0, count: count * size)
    try bytes.withUnsafeMutableBytes { buffer in
        guard let base = buffer.baseAddress else { return }
        try check(operation, location) { read(memoryType, base) }
    }
    return try (0..<count).map { index in
        var element = bytes[index * size ..< (index + 1) * size]
        if let end = element.firstIndex(of: 0) { element = element[..<end] }
        if spacePadded { while element.last == 0x20 { element = element.dropLast() } }
        return try element.withUnsafeBytes { try decodeUTF8($0, element: index, operation, location) }
    }
}

let maxFixedStringBytes = 1 << 20

private func checkHeapReferences(count: Int, object: hid_t, _ operation: String, _ location: String,
                                 read: (hid_t, UnsafeMutableRawPointer) -> herr_t) throws {
    let referenceType = try check("vane_h5_heap_reference_type", location) { vane_h5_heap_reference_type() }
    var references = [UInt8](repeating: 0, count: 16 * count)
    _ = try references.withUnsafeMutableBytes { buffer in
        try check(operation, location) { read(referenceType, buffer.baseAddress!) }
    }
    var message = [CChar](repeating: 0, count: 512)
    guard vane_h5_check_heap_references(object, references, count, &message, message.count) == 0 else {
        throw hdf5Error(operation: operation, location: location,
                        message: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

private func decodeUTF8(_ bytes: UnsafeRawBufferPointer, element: Int, _ operation: String,
                        _ location: String) throws -> String {
    let string = String(decoding: bytes, as: UTF8.self)
    guard string.utf8.elementsEqual(bytes) else {
        throw hdf5Error(operation: operation, location: location, message: "string \(element) is not valid UTF-8")
    }
    return string
}
