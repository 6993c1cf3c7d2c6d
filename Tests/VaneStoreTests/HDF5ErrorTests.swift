import Foundation
import Testing
import VaneStore

/// Every failure is a thrown VaneError that names the file (and object) and says what went wrong.
@Suite struct HDF5ErrorTests {
    private func expectError(_ expectedParts: [String], _ body: () throws -> Void,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        let error = #expect(throws: VaneError.self, sourceLocation: sourceLocation) { try body() }
        guard let error else { return }
        for part in expectedParts {
            #expect(error.description.contains(part), "«\(part)» missing from: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func openingAFileThatIsNotHDF5() throws {
        let scratch = try Scratch()
        let url = scratch.file("notes.h5")
        try Data(repeating: 0x41, count: 4096).write(to: url)
        expectError([url.path, "not an HDF5 file"]) { _ = try HDF5File.open(at: url) }
        expectError([url.path, "not an HDF5 file"]) { _ = try HDF5File.open(at: url, mode: .readWrite) }
    }

    @Test func openingAMissingFile() throws {
        let scratch = try Scratch()
        let url = scratch.file("missing.h5")
        expectError([url.path, "no such file"]) { _ = try HDF5File.open(at: url) }
    }

    @Test func creatingInAMissingDirectory() throws {
        let scratch = try Scratch()
        let url = scratch.file("no/such/dir/out.h5")
        expectError([url.path, "does not exist"]) { _ = try HDF5File.create(at: url, mode: .truncate) }
    }

    @Test func creatingInAReadOnlyDirectory() throws {
        // Permission bits do not stop root, so as root use /sys, where no one may create files.
        let directory: URL
        let scratch = try Scratch()
        if getuid() == 0 {
            directory = URL(fileURLWithPath: "/sys")
            try #require(FileManager.default.fileExists(atPath: directory.path), "running as root without /sys")
        } else {
            directory = scratch.file("read-only")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: directory.path)
        }
        let url = directory.appendingPathComponent("vane-test.h5")
        expectError(["H5Fcreate", url.path, "Permission denied"]) { _ = try HDF5File.create(at: url, mode: .exclusive) }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func creatingExclusivelyOverAnExistingFile() throws {
        let scratch = try Scratch()
        let url = scratch.file("taken.h5")
        try HDF5File.create(at: url, mode: .exclusive).close()
        expectError(["H5Fcreate", url.path, "File exists"]) { _ = try HDF5File.create(at: url, mode: .exclusive) }
        // Truncating replaces it.
        let file = try HDF5File.create(at: url, mode: .truncate)
        #expect(try file.root.children().isEmpty)
    }

    @Test func missingObjectsAreNamed() throws {
        let scratch = try Scratch()
        let url = scratch.file("objects.h5")
        let file = try HDF5File.create(at: url, mode: .exclusive)
        _ = try file.root.createGroup("examples")
        expectError(["H5Dopen2", "\(url.path):/examples/label", "doesn't exist"]) {
            _ = try file.root.openDataset("examples/label")
        }
        expectError(["H5Dopen2", "\(url.path):/blocks.9/hook_resid_post"]) {
            _ = try file.root.openDataset("blocks.9/hook_resid_post")
        }
        expectError(["H5Gopen2", "\(url.path):/nowhere"]) { _ = try file.root.openGroup("nowhere") }
        expectError(["H5Aopen", "\(url.path):/@format", "format"]) { _ = try file.attributes.get("format") }
        #expect(try file.root.contains("examples") && !file.root.contains("examples/label"))
        #expect(try !file.root.contains("blocks.9/hook_resid_post"))
    }

    @Test func misuseOfADataset() throws {
        let scratch = try Scratch()
        let url = scratch.file("misuse.h5")
        do {
            let file = try HDF5File.create(at: url, mode: .exclusive)
            let acts = try file.root.createDataset("acts", type: .float32, shape: [2, 3])
            expectError(["write", "5 values given for shape [2, 3]"]) { try acts.write([Float](repeating: 0, count: 5)) }
            expectError(["append", "4 values are not whole rows of shape [2, 3]"]) {
                try acts.append(rows: [Float](repeating: 0, count: 4))
            }
            expectError(["\(url.path):/acts", "holds float32, not int64"]) { try acts.append(rows: [Int64(1), 2, 3]) }
            expectError(["holds float32, not string"]) { _ = try acts.read(as: String.self) }
            expectError(["rows 1..<3 outside shape [2, 3]"]) { _ = try acts.read(rows: 1..<3, as: Float.self) }
            expectError(["rank ≥ 1"]) { _ = try file.root.createDataset("scalar", type: .int64, shape: []) }
            expectError(["axis 0 must be ≥ 0 and the other axes ≥ 1"]) {
                _ = try file.root.createDataset("flat", type: .int64, shape: [4, 0])
            }
            expectError(["deflate level 12"]) { _ = try file.root.createDataset("z", type: .int64, shape: [0], deflate: 12) }
            expectError(["H5Dcreate2", "\(url.path):/acts"]) { _ = try file.root.createDataset("acts", type: .int64, shape: [0]) }
            try file.close()
        }
        let file = try HDF5File.open(at: url)
        expectError(["H5Dset_extent", "\(url.path):/acts"]) {
            try file.root.openDataset("acts").append(rows: [Float](repeating: 1, count: 3))
        }
    }
}
