import Foundation
import Testing
import VaneStore
import VaneTestSupport

/// Writes with Vane and reads back with Vane after closing and reopening. Values must come back bit-exact
/// (tolerance 0); h5py and h5dump check the same files independently in HDF5ReferenceTests.
@Suite struct HDF5RoundTripTests {
    static let texts = ["plain", "héllo wörld", "日本語のテキスト", "", "emoji 🙂👍🏽", "tab\tand\nnewline"]

    @Test(arguments: [[5], [4, 3], [3, 2, 4]])
    func everyTypeAndRank(shape: [Int]) throws {
        let scratch = try Scratch()
        let url = scratch.file("types.h5")
        let count = shape.reduce(1, *)
        let floats = (0..<count).map { Float($0) * 0.37 - 1.5 }
        let int32s = (0..<count).map { Int32($0 * 1_000_003 % 65_537) - 30_000 }
        let int64s = (0..<count).map { Int64($0) * 3_000_000_007 - 7 }
        let strings = (0..<count).map { Self.texts[$0 % Self.texts.count] + "#\($0)" }

        do {
            let file = try HDF5File.create(at: url, mode: .exclusive)
            try file.root.createDataset("f32", type: .float32, shape: shape).write(floats)
            try file.root.createDataset("i32", type: .int32, shape: shape).write(int32s)
            try file.root.createDataset("i64", type: .int64, shape: shape).write(int64s)
            try file.root.createDataset("str", type: .string, shape: shape).write(strings)
            try file.close()
        }

        let file = try HDF5File.open(at: url)
        #expect(try file.root.children() == ["f32", "i32", "i64", "str"])
        for (name, type) in [("f32", HDF5DataType.float32), ("i32", .int32), ("i64", .int64), ("str", .string)] {
            let dataset = try file.root.openDataset(name)
            #expect(dataset.dataType == type, "\(name)")
            #expect(try dataset.shape == shape, "\(name)")
            #expect(try dataset.maxShape == [nil] + shape.dropFirst().map { Optional($0) }, "\(name)")
            #expect(try dataset.chunkShape?.dropFirst() == shape.dropFirst(), "\(name)")
        }
        let readFloats = try file.root.openDataset("f32").read(as: Float.self)
        if let mismatch = compare(readFloats, floats, atol: 0, label: "f32 \(shape)") { Issue.record("\(mismatch)") }
        #expect(try file.root.openDataset("i32").read(as: Int32.self) == int32s)
        #expect(try file.root.openDataset("i64").read(as: Int64.self) == int64s)
        #expect(try file.root.openDataset("str").read(as: String.self) == strings)
    }

    @Test(arguments: [nil, 6])
    func appendsAcrossChunks(deflate: Int?) throws {
        let scratch = try Scratch()
        let url = scratch.file("append.h5")
        let batches = [3, 5, 7, 1]  // 16 rows in chunks of 4: batches straddle chunk boundaries
        let rowSize = 2 * 3
        func rows(_ range: Range<Int>) -> [Float] { range.flatMap { row in (0..<rowSize).map { Float(row * 100 + $0) } } }
        func labels(_ range: Range<Int>) -> [Int64] { range.map { Int64($0) - 8 } }
        func texts(_ range: Range<Int>) -> [String] { range.map { "row \($0): " + Self.texts[$0 % Self.texts.count] } }

        do {
            let file = try HDF5File.create(at: url, mode: .truncate)
            let acts = try file.root.createDataset("blocks.0.hook_resid_post", type: .float32, shape: [0, 2, 3],
                                                   chunkRows: 4, deflate: deflate)
            let label = try file.root.createDataset("examples/label", type: .int64, shape: [0], chunkRows: 4,
                                                    deflate: deflate)
            let text = try file.root.createDataset("examples/text", type: .string, shape: [0], chunkRows: 4,
                                                   deflate: deflate)
            #expect(try acts.chunkShape == [4, 2, 3])
            var done = 0
            for batch in batches {
                try acts.append(rows: rows(done..<done + batch))
                try label.append(rows: labels(done..<done + batch))
                try text.append(rows: texts(done..<done + batch))
                done += batch
                #expect(try acts.shape == [done, 2, 3])
                #expect(try text.shape == [done])
            }
            try acts.append(rows: [Float]())  // no rows: no change
            #expect(try acts.shape == [16, 2, 3])
            try file.close()
        }

        // Reopen for writing, as a resumed run does, and append more.
        do {
            let file = try HDF5File.open(at: url, mode: .readWrite)
            try file.root.openDataset("blocks.0.hook_resid_post").append(rows: rows(16..<19))
            try file.root.openDataset("examples/label").append(rows: labels(16..<19))
            try file.root.openDataset("examples/text").append(rows: texts(16..<19))
        }

        let file = try HDF5File.open(at: url)
        let examples = try file.root.openGroup("examples")
        #expect(try examples.children() == ["label", "text"])
        let acts = try file.root.openDataset("blocks.0.hook_resid_post")
        #expect(try acts.shape == [19, 2, 3])
        for range in [0..<19, 5..<13, 0..<0, 18..<19] {
            let got = try acts.read(rows: range, as: Float.self)
            if let mismatch = compare(got, rows(range), atol: 0, label: "rows \(range)") { Issue.record("\(mismatch)") }
            #expect(try examples.openDataset("label").read(rows: range, as: Int64.self) == labels(range))
            #expect(try examples.openDataset("text").read(rows: range, as: String.self) == texts(range))
        }
        #expect(try file.root.openDataset("examples/text").read(as: String.self) == texts(0..<19))
    }

    @Test func deflateShrinksCompressibleData() throws {
        let scratch = try Scratch()
        let values = (0..<20_000).map { Float($0 % 7) }
        var sizes: [Int] = []
        for deflate in [nil, 6] {
            let url = scratch.file("deflate-\(deflate ?? 0).h5")
            do {
                let file = try HDF5File.create(at: url, mode: .exclusive)
                try file.root.createDataset("x", type: .float32, shape: [0, 100], deflate: deflate).append(rows: values)
                try file.close()
            }
            let read = try HDF5File.open(at: url).root.openDataset("x").read(as: Float.self)
            if let mismatch = compare(read, values, atol: 0, label: "deflate \(String(describing: deflate))") {
                Issue.record("\(mismatch)")
            }
            let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
            sizes.append(size)
        }
        // 80 kB of floats: stored plain it is at least that; deflated, repeating values take a few kB.
        #expect(sizes[0] >= 80_000 && sizes[1] < sizes[0] / 4, "plain \(sizes[0]) bytes, deflated \(sizes[1]) bytes")
    }

    @Test func attributesOfEveryKind() throws {
        let scratch = try Scratch()
        let url = scratch.file("attrs.h5")
        let values: [String: HDF5AttributeValue] = [
            "format": .string("vane.activations"),
            "unicode": .string("modèle «SmolLM2» 日本 🙂"),
            "empty_string": .string(""),
            "format_version": .int64(1),
            "big": .int64(Int64.min),
            "temperature": .double(0.7),
            "tiny": .double(-1.25e-300),
            "layers": .int64s([0, 5, 29, Int64.max]),
            "no_layers": .int64s([]),
            "scores": .doubles([0.5, -3.0e10, .infinity]),
            "hooks": .strings(["blocks.3.hook_resid_post", "blocks.4.attn.hook_result", "ü", ""]),
        ]
        do {
            let file = try HDF5File.create(at: url, mode: .exclusive)
            let group = try file.root.createGroup("examples/meta")
            let dataset = try group.createDataset("n_tokens", type: .int64, shape: [0])
            for attributes in [file.attributes, group.attributes, dataset.attributes] {
                for (name, value) in values { try attributes.set(name, value) }
                // Overwriting replaces the value, also with another kind.
                try attributes.set("format_version", "one")
                try attributes.set("format_version", Int64(2))
                try attributes.set("model", "first")
                try attributes.set("model", ["second", "third"])
            }
            try file.close()
        }

        let file = try HDF5File.open(at: url)
        let group = try file.root.openGroup("examples/meta")
        let dataset = try group.openDataset("n_tokens")
        for attributes in [file.attributes, group.attributes, dataset.attributes] {
            #expect(try attributes.names() == (Array(values.keys) + ["model"]).sorted())
            for (name, value) in values where name != "format_version" {
                #expect(try attributes.get(name) == value, "\(name)")
            }
            #expect(try attributes.get("format_version", as: Int64.self) == 2)
            #expect(try attributes.get("model", as: [String].self) == ["second", "third"])
            #expect(try attributes.get("temperature", as: Double.self) == 0.7)
            #expect(try attributes.get("layers", as: [Int64].self) == [0, 5, 29, Int64.max])
            #expect(try attributes.get("scores", as: [Double].self) == [0.5, -3.0e10, .infinity])
            #expect(try attributes.get("format", as: String.self) == "vane.activations")
            #expect(try attributes.contains("format") && !attributes.contains("absent"))
            let error = #expect(throws: VaneError.self) { try attributes.get("layers", as: String.self) }
            #expect(error?.description.contains("layers") == true && error?.message.contains("[int64]") == true,
                    "\(String(describing: error))")
        }
    }

    @Test func stringsWithNULAreRefused() throws {
        let scratch = try Scratch()
        let file = try HDF5File.create(at: scratch.file("nul.h5"), mode: .exclusive)
        let text = try file.root.createDataset("text", type: .string, shape: [0])
        let error = #expect(throws: VaneError.self) { try text.append(rows: ["fine", "cut\u{0}here"]) }
        #expect(error?.message.contains("string 1 contains a NUL") == true, "\(String(describing: error))")
        #expect(try text.shape == [0])
        #expect(throws: VaneError.self) { try file.attributes.set("bad", "a\u{0}b") }
    }

    /// An interrupted writer leaves a file that is valid up to its last flush: copying the bytes of a file that
    /// is still open (what a killed process leaves on disk) after each flush must give a file that opens and holds
    /// every flushed row.
    @Test func flushedRowsSurviveWithoutClose() throws {
        let scratch = try Scratch()
        let url = scratch.file("run.h5.partial")
        let file = try HDF5File.create(at: url, mode: .exclusive)
        try file.attributes.set("format", "vane.activations")
        let acts = try file.root.createDataset("acts", type: .float32, shape: [0, 8], chunkRows: 3)
        let text = try file.root.createDataset("examples/text", type: .string, shape: [0], chunkRows: 3)
        var expected: [Float] = []
        for batch in 0..<5 {
            let rows = (0..<(batch + 2) * 8).map { Float(expected.count + $0) * 0.25 }
            try acts.append(rows: rows)
            try text.append(rows: (0..<batch + 2).map { "batch \(batch) · row \($0)" })
            expected += rows
            try file.flush()

            let copy = scratch.file("copy-\(batch).h5")
            try FileManager.default.copyItem(at: url, to: copy)
            let reopened = try HDF5File.open(at: copy)
            #expect(try reopened.attributes.get("format", as: String.self) == "vane.activations")
            let got = try reopened.root.openDataset("acts").read(as: Float.self)
            if let mismatch = compare(got, expected, atol: 0, label: "copy after batch \(batch)") {
                Issue.record("\(mismatch)")
            }
            #expect(try reopened.root.openDataset("examples/text").shape == [expected.count / 8])
        }
    }

    /// Readers take no file lock: a finished file opens while another process holds an exclusive flock on it
    /// (what a child started during a write keeps until it execs); a second writer is refused, saying why.
    @Test func readersIgnoreAWritersLock() throws {
        let scratch = try Scratch()
        let url = scratch.file("locked.h5")
        do {
            let file = try HDF5File.create(at: url, mode: .exclusive)
            try file.root.createDataset("x", type: .float32, shape: [2]).write([1, 2] as [Float])
            try file.close()
        }
        // One process that takes the lock, says so, and holds it (SIGKILL: a test runner may ignore SIGTERM,
        // and its children inherit that).
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", "import fcntl, sys, time; f = open(sys.argv[1]); "
            + "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)", url.path]
        let pipe = Pipe()
        holder.standardOutput = pipe
        try holder.run()
        defer { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() }
        let said = String(decoding: pipe.fileHandleForReading.readData(ofLength: 6), as: UTF8.self)
        try #require(said == "locked", "the lock holder did not start: \(said)")
        var refusal: String?
        do { _ = try HDF5File.open(at: url, mode: .readWrite) } catch { refusal = "\(error)" }
        let message = try #require(refusal, "the writer open never saw the lock")
        #expect(message.contains("another process has it open for writing"), "\(message)")
        let reader = try HDF5File.open(at: url)
        #expect(try reader.root.openDataset("x").read(as: Float.self) == [1, 2])
    }
}
