import CHDF5

/// A group: a folder of groups and datasets. Paths given to its methods are relative to it ("a/b/c"), or absolute
/// in the file ("/a/b").
public final class HDF5Group {
    let handle: HDF5Handle
    public let attributes: HDF5Attributes

    /// Absolute path inside the file ("/" for the root group).
    public var path: String { handle.path }

    /// Opens the group `name` below `parent` (a file or group).
    init(openAt parent: HDF5Handle, name: String) throws {
        let id = try check("H5Gopen2", parent.location(of: name)) {
            H5Gopen2(parent.id, name, vane_H5P_DEFAULT())
        }
        handle = HDF5Handle(id: id, file: parent.file, path: parent.childPath(name), close: H5Gclose)
        attributes = HDF5Attributes(handle)
    }

    private init(handle: HDF5Handle) {
        self.handle = handle
        attributes = HDF5Attributes(handle)
    }

    /// Creates the group `path`, and any missing groups on the way to it; fails if it already exists.
    public func createGroup(_ path: String) throws -> HDF5Group {
        let location = handle.location(of: path)
        let linkCreation = try intermediateGroupsLinkList(location)
        defer { unchecked { H5Pclose(linkCreation) } }
        let id = try check("H5Gcreate2", location) {
            H5Gcreate2(handle.id, path, linkCreation, vane_H5P_DEFAULT(), vane_H5P_DEFAULT())
        }
        return HDF5Group(handle: HDF5Handle(id: id, file: handle.file, path: handle.childPath(path), close: H5Gclose))
    }

    public func openGroup(_ path: String) throws -> HDF5Group {
        try HDF5Group(openAt: handle, name: path)
    }

    /// Creates the dataset `path` (and any missing groups on the way), of the given element type and initial
    /// shape (rank ≥ 1; axis 0 may be 0). Axis 0 is unlimited, so rows can be appended; the other axes are fixed
    /// and must be ≥ 1. Storage is chunked along axis 0, `chunkRows` rows per chunk (by default about 1 MiB, at
    /// most 4096 rows), and compressed with deflate when `deflate` (0...9) is given.
    public func createDataset(_ path: String, type: HDF5DataType, shape: [Int], chunkRows: Int? = nil,
                              deflate: Int? = nil) throws -> HDF5Dataset {
        try HDF5Dataset(createAt: handle, name: path, type: type, shape: shape, chunkRows: chunkRows, deflate: deflate)
    }

    public func openDataset(_ path: String) throws -> HDF5Dataset {
        try HDF5Dataset(openAt: handle, name: path)
    }

    /// Names of the direct children (groups, datasets, other links), in name order.
    public func children() throws -> [String] {
        var info = H5G_info_t()
        try check("H5Gget_info", handle.location) { H5Gget_info(handle.id, &info) }
        return try (0..<info.nlinks).map { index in
            let length = try check("H5Lget_name_by_idx", handle.location) {
                H5Lget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, vane_H5P_DEFAULT())
            }
            var name = [CChar](repeating: 0, count: Int(length) + 1)
            try check("H5Lget_name_by_idx", handle.location) {
                H5Lget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &name, name.count,
                                   vane_H5P_DEFAULT())
            }
            return String(decoding: name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Whether `path` names an existing link (group, dataset, …) below this group.
    public func contains(_ path: String) throws -> Bool {
        // H5Lexists fails rather than answer false when an intermediate group is missing: test each prefix.
        let components = path.split(separator: "/")
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in components {
            prefix += (prefix.isEmpty || prefix == "/" ? "" : "/") + component
            let exists = try check("H5Lexists", handle.location(of: prefix)) {
                H5Lexists(handle.id, prefix, vane_H5P_DEFAULT())
            }
            if exists == 0 { return false }
        }
        return true
    }
}

/// A link-creation property list that creates missing intermediate groups; the caller closes it.
func intermediateGroupsLinkList(_ location: String) throws -> hid_t {
    let list = try check("H5Pcreate", location) { H5Pcreate(vane_H5P_LINK_CREATE()) }
    do {
        try check("H5Pset_create_intermediate_group", location) { H5Pset_create_intermediate_group(list, 1) }
    } catch {
        unchecked { H5Pclose(list) }
        throw error
    }
    return list
}
