import Foundation
import Testing
import VaneStore
import VaneTestSupport

/// Vane's files checked by independent HDF5 implementations (h5py over its own libhdf5, and h5dump), and a file
/// written by h5py read by Vane. Values must agree exactly (tolerance 0).
@Suite struct HDF5ReferenceTests {
    static let acts = (0..<15).map { Float($0) * 0.75 - 4 }
    static let labels: [Int64] = [1, -2, 3_000_000_000, -9]
    static let texts = ["héllo", "日本語 🙂", ""]
    static let heads = (0..<8).map { Int32($0) - 3 }

    /// Writes the file the reference tools inspect.
    private func writeVaneFile(at url: URL) throws {
        let file = try HDF5File.create(at: url, mode: .exclusive)
        try file.attributes.set("format", "vane.activations")
        try file.attributes.set("format_version", Int64(1))
        try file.attributes.set("temperature", 0.7)
        try file.attributes.set("layers", [Int64(3), 5])
        try file.attributes.set("scores", [0.25, -1.5])
        try file.attributes.set("hooks", ["blocks.3.hook_resid_post", "ü"])
        let acts = try file.root.createDataset("blocks.3.hook_resid_post", type: .float32, shape: [0, 3],
                                               chunkRows: 2, deflate: 4)
        try acts.append(rows: Array(Self.acts[..<9]))
        try acts.append(rows: Array(Self.acts[9...]))
        try acts.attributes.set("hook", "blocks.3.hook_resid_post")
        try file.root.createDataset("examples/label", type: .int64, shape: [0]).append(rows: Self.labels)
        try file.root.createDataset("examples/text", type: .string, shape: [0]).append(rows: Self.texts)
        try file.root.createDataset("heads", type: .int32, shape: [2, 2, 2]).write(Self.heads)
        try file.close()
    }

    /// h5py's view of every object: dtype, shape, maxshape, chunks, compression, values (flattened), attributes.
    static let h5pyDescribe = """
        import h5py, json, sys
        import numpy as np
        def plain(v):
            if isinstance(v, bytes): return v.decode("utf-8")
            if isinstance(v, np.ndarray): return [plain(x) for x in v.reshape(-1).tolist()]
            if isinstance(v, np.generic): return v.item()
            return v
        def attrs(obj):
            return {k: {"dtype": obj.attrs.get_id(k).dtype.str, "shape": list(obj.attrs.get_id(k).shape),
                        "value": plain(obj.attrs[k])} for k in obj.attrs}
        with h5py.File(sys.argv[1], "r") as f:
            out = {"/": {"attrs": attrs(f)}}
            def visit(name, obj):
                entry = {"attrs": attrs(obj)}
                if isinstance(obj, h5py.Dataset):
                    s = h5py.check_string_dtype(obj.dtype)
                    data = np.asarray(obj.asstr()[()] if s else obj[()])
                    entry.update(dtype="str:" + s.encoding if s else obj.dtype.str, shape=list(obj.shape),
                                 maxshape=list(obj.maxshape), chunks=list(obj.chunks) if obj.chunks else None,
                                 compression=obj.compression, level=obj.compression_opts, values=plain(data))
                out["/" + name] = entry
            f.visititems(visit)
        print(json.dumps(out))
        """

    @Test(.enabled(if: ReferenceTools.h5py, "h5py is not installed (pip install h5py)"))
    func h5pyReadsVaneFiles() throws {
        let scratch = try Scratch()
        let url = scratch.file("vane.h5")
        try writeVaneFile(at: url)
        let result = try #require(runTool(["python3", "-c", Self.h5pyDescribe, url.path]))
        try #require(result.status == 0, "h5py failed: \(result.output)")
        let parsed = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let json = try #require(parsed, "h5py printed no JSON: \(result.output)")
        func object(_ path: String) -> [String: Any] { json[path] as? [String: Any] ?? [:] }
        func attribute(_ path: String, _ name: String) -> [String: Any] {
            (object(path)["attrs"] as? [String: Any])?[name] as? [String: Any] ?? [:]
        }

        #expect(Set(json.keys) == ["/", "/blocks.3.hook_resid_post", "/examples", "/examples/label",
                                   "/examples/text", "/heads"])
        let rootAttributes: [(String, String, [Int], String)] = [
            ("format", "|O", [], "\"vane.activations\""), ("format_version", "<i8", [], "1"),
            ("temperature", "<f8", [], "0.7"), ("layers", "<i8", [2], "[3, 5]"), ("scores", "<f8", [2], "[0.25, -1.5]"),
            ("hooks", "|O", [2], "[\"blocks.3.hook_resid_post\", \"ü\"]"),
        ]
        for (name, dtype, shape, value) in rootAttributes {
            let seen = attribute("/", name)
            #expect(seen["dtype"] as? String == dtype, "\(name): \(seen)")
            #expect(seen["shape"] as? [Int] == shape, "\(name): \(seen)")
            let encoded = try JSONSerialization.data(withJSONObject: seen["value"] ?? NSNull(), options: .fragmentsAllowed)
            let expected = try JSONSerialization.data(withJSONObject: JSONSerialization.jsonObject(
                with: Data(value.utf8), options: .fragmentsAllowed), options: .fragmentsAllowed)
            #expect(encoded == expected, "\(name): h5py read \(String(decoding: encoded, as: UTF8.self)), wrote \(value)")
        }

        let acts = object("/blocks.3.hook_resid_post")
        #expect(acts["dtype"] as? String == "<f4")
        #expect(acts["shape"] as? [Int] == [5, 3])
        #expect((acts["maxshape"] as? [Any])?.first is NSNull && (acts["maxshape"] as? [Any])?.last as? Int == 3)
        #expect(acts["chunks"] as? [Int] == [2, 3])
        #expect(acts["compression"] as? String == "gzip" && acts["level"] as? Int == 4)
        let actValues = (acts["values"] as? [Double] ?? []).map { Float($0) }
        if let mismatch = compare(actValues, Self.acts, atol: 0, label: "h5py acts") { Issue.record("\(mismatch)") }
        #expect(attribute("/blocks.3.hook_resid_post", "hook")["value"] as? String == "blocks.3.hook_resid_post")

        let label = object("/examples/label")
        #expect(label["dtype"] as? String == "<i8" && label["compression"] is NSNull)
        #expect((label["values"] as? [Int])?.map { Int64($0) } == Self.labels)
        let text = object("/examples/text")
        #expect(text["dtype"] as? String == "str:utf-8" && text["shape"] as? [Int] == [3])
        #expect(text["values"] as? [String] == Self.texts)
        let heads = object("/heads")
        #expect(heads["dtype"] as? String == "<i4" && heads["shape"] as? [Int] == [2, 2, 2])
        #expect((heads["values"] as? [Int])?.map { Int32($0) } == Self.heads)
    }

    @Test(.enabled(if: ReferenceTools.h5dump, "h5dump is not installed (apt install hdf5-tools)"))
    func h5dumpDescribesVaneFiles() throws {
        let scratch = try Scratch()
        let url = scratch.file("vane.h5")
        try writeVaneFile(at: url)
        let header = try #require(runTool(["h5dump", "-H", "-p", url.path]))
        try #require(header.status == 0, "h5dump failed: \(header.output)")
        for part in ["DATASET \"blocks.3.hook_resid_post\"", "H5T_IEEE_F32LE",
                     "DATASPACE  SIMPLE { ( 5, 3 ) / ( H5S_UNLIMITED, 3 ) }", "CHUNKED ( 2, 3 )",
                     "COMPRESSION DEFLATE { LEVEL 4 }", "H5T_STD_I64LE", "H5T_STD_I32LE",
                     "DATASPACE  SIMPLE { ( 2, 2, 2 ) / ( H5S_UNLIMITED, 2, 2 ) }", "STRSIZE H5T_VARIABLE",
                     "CSET H5T_CSET_UTF8", "ATTRIBUTE \"format_version\""] {
            #expect(header.output.contains(part), "«\(part)» missing from h5dump -H -p:\n\(header.output)")
        }
        let labels = try #require(runTool(["h5dump", "-d", "/examples/label", "-y", "-w", "0", url.path]))
        #expect(labels.output.contains("1, -2, 3000000000, -9"), "h5dump -d /examples/label:\n\(labels.output)")
    }

    /// Tests/Fixtures/hdf5/h5py-written.h5, written by make_h5py_written.py (see Tests/Fixtures/README.md).
    @Test func readsAFileWrittenByH5py() throws {
        let file = try HDF5File.open(at: Fixtures.url("hdf5/h5py-written.h5"))
        #expect(try file.root.children() == ["acts", "doubles", "text"])
        #expect(try file.attributes.names() == ["count", "fixed", "ids", "matrix", "names", "scale", "small", "title",
                                                "weights"])
        let expected: [String: HDF5AttributeValue] = [
            "title": .string("written by h5py ✓"), "count": .int64(-7), "scale": .double(0.125), "small": .int64(200),
            "ids": .int64s([3, -1, 4]), "weights": .doubles([0.5, -2.25]), "names": .strings(["α", "beta", ""]),
            "fixed": .string("fixed-len"),
        ]
        for (name, value) in expected {
            #expect(try file.attributes.get(name) == value, "\(name)")
        }
        let matrix = #expect(throws: VaneError.self) { try file.attributes.get("matrix") }
        #expect(matrix?.description.contains("@matrix") == true && matrix?.message.contains("[2, 2]") == true,
                "\(String(describing: matrix))")

        let resid = try file.root.openDataset("acts/resid")
        #expect(resid.dataType == .float32)
        #expect(try resid.shape == [4, 3])
        #expect(try resid.chunkShape == [2, 3])
        #expect(try resid.maxShape == [nil, 3])
        let residValues = try resid.read(as: Float.self)
        if let mismatch = compare(residValues, (0..<12).map { Float($0) * 0.5 - 1 }, atol: 0, label: "acts/resid") {
            Issue.record("\(mismatch)")
        }
        #expect(try resid.read(rows: 1..<3, as: Float.self) == (3..<9).map { Float($0) * 0.5 - 1 })
        #expect(try resid.attributes.get("hook", as: String.self) == "blocks.3.hook_resid_post")

        let labels = try file.root.openDataset("acts/labels")
        #expect(labels.dataType == .int64)
        #expect(try labels.chunkShape == nil)
        #expect(try labels.read(as: Int64.self) == [1, 0, -1, 1 << 40, -(1 << 40)])
        let heads = try file.root.openDataset("acts/heads")
        #expect(heads.dataType == .int32)
        #expect(try heads.shape == [2, 2, 2])
        #expect(try heads.read(as: Int32.self) == (0..<8).map { Int32($0) - 3 })
        #expect(try heads.read(rows: 1..<2, as: Int32.self) == [1, 2, 3, 4])

        #expect(try file.root.openDataset("text/utf8").read(as: String.self) == ["héllo", "日本語", "", "🙂 ok"])
        #expect(try file.root.openDataset("text/utf8").read(rows: 1..<3, as: String.self) == ["日本語", ""])
        #expect(try file.root.openDataset("text/fixed").read(as: String.self) == ["ab", "cde", ""])

        let doubles = #expect(throws: VaneError.self) { _ = try file.root.openDataset("doubles") }
        #expect(doubles?.message.contains("unsupported element type (float, 8 bytes)") == true,
                "\(String(describing: doubles))")
    }
}
