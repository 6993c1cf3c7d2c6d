import CHDF5
import Foundation

// Virtual datasets (HDF5 1.10+, "VDS"): a dataset whose rows are read from datasets in other files, mapped once at
// creation. A reader opens the source files when it reads; libhdf5 looks for a relative source name in the folder
// of the file holding the virtual dataset (after HDF5_VDS_PREFIX), and silently reads fill values where a source
// file is missing — so `virtualSourceFiles` lets a reader check for them first.

/// Rows 0..<rows of dataset `dataset` in file `file` (a path relative to the virtual dataset's folder, or
/// absolute), placed at rows `at`..<`at + rows` of a virtual dataset.
public struct HDF5VirtualSource: Equatable, Sendable {
    public var file: String
    public var dataset: String
    public var rows: Int
    public var at: Int

    public init(file: String, dataset: String, rows: Int, at: Int) {
        self.file = file
        self.dataset = dataset
        self.rows = rows
        self.at = at
    }
}

extension HDF5Group {
    /// Creates the virtual dataset `path` of fixed `shape` (rank ≥ 1) whose rows come from `sources`; each source
    /// dataset must have rows of shape `shape.dropFirst()` and element type `type`. Sources of no rows are left out.
    public func createVirtualDataset(_ path: String, type: HDF5DataType, shape: [Int],
                                     sources: [HDF5VirtualSource]) throws -> HDF5Dataset {
        let location = handle.location(of: path)
        func refuse(_ message: String) -> VaneError {
            hdf5Error(operation: "create virtual dataset", location: location, message: message)
        }
        guard let rows = shape.first, rows >= 0, shape.dropFirst().allSatisfy({ $0 >= 1 }) else {
            throw refuse("shape \(shape): axis 0 must be ≥ 0 and the other axes ≥ 1")
        }
        for source in sources where source.rows < 0 || source.at < 0 || source.at + source.rows > rows {
            throw refuse("source \(source.file):\(source.dataset) rows \(source.at)..<\(source.at + source.rows) "
                + "lie outside the \(rows) rows")
        }
        let fileType: () -> hid_t = switch type {
        case .float32: vane_H5T_IEEE_F32LE
        case .int32: vane_H5T_STD_I32LE
        case .int64: vane_H5T_STD_I64LE
        case .string: throw refuse("virtual datasets hold numbers here, not strings")
        }
        let dims = try hdf5Dims(shape, "create virtual dataset", location)
        let space = try check("H5Screate_simple", location) { H5Screate_simple(Int32(dims.count), dims, nil) }
        defer { unchecked { H5Sclose(space) } }
        let creation = try check("H5Pcreate", location) { H5Pcreate(vane_H5P_DATASET_CREATE()) }
        defer { unchecked { H5Pclose(creation) } }
        for source in sources where source.rows > 0 {
            var start = [hsize_t](repeating: 0, count: dims.count)
            start[0] = hsize_t(source.at)
            var count = dims
            count[0] = hsize_t(source.rows)
            try check("H5Sselect_hyperslab", location) {
                H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nil, count, nil)
            }
            let sourceSpace = try check("H5Screate_simple", location) {
                H5Screate_simple(Int32(count.count), count, nil)
            }
            defer { unchecked { H5Sclose(sourceSpace) } }
            try check("H5Pset_virtual", location) {
                H5Pset_virtual(creation, space, source.file, source.dataset, sourceSpace)
            }
        }
        try check("H5Sselect_all", location) { H5Sselect_all(space) }
        let linkCreation = try intermediateGroupsLinkList(location)
        defer { unchecked { H5Pclose(linkCreation) } }
        let id = try check("H5Dcreate2", location) {
            H5Dcreate2(handle.id, path, fileType(), space, linkCreation, creation, vane_H5P_DEFAULT())
        }
        unchecked { H5Dclose(id) }
        return try openDataset(path)
    }
}

extension HDF5Dataset {
    /// The files a virtual dataset reads its rows from, as stored (relative names are relative to the folder of
    /// the file that holds it); empty for any other dataset.
    public var virtualSourceFiles: [String] {
        get throws {
            let location = handle.location
            let creation = try check("H5Dget_create_plist", location) { H5Dget_create_plist(handle.id) }
            defer { unchecked { H5Pclose(creation) } }
            let layout = try check("H5Pget_layout", location) { H5Pget_layout(creation).rawValue }
            guard layout == H5D_VIRTUAL.rawValue else { return [] }
            var count = 0
            try check("H5Pget_virtual_count", location) { H5Pget_virtual_count(creation, &count) }
            return try (0..<count).map { index in
                let length = try check("H5Pget_virtual_filename", location) {
                    H5Pget_virtual_filename(creation, index, nil, 0)
                }
                var name = [CChar](repeating: 0, count: length + 1)
                try check("H5Pget_virtual_filename", location) {
                    H5Pget_virtual_filename(creation, index, &name, name.count)
                }
                return String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
    }
}
