import Foundation
import VaneModelIO
import VaneTensor

/// A fresh folder for the files a test builds; the test removes it when done.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vane-modelio-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func readBytes(_ url: URL) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: url))
}

func write(_ bytes: [UInt8], to url: URL) throws {
    try Data(bytes).write(to: url)
}

func putLE<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8], at offset: Int) {
    withUnsafeBytes(of: value.littleEndian) { raw in
        for (i, b) in raw.enumerated() { bytes[offset + i] = b }
    }
}

func getLE<T: FixedWidthInteger>(_: T.Type, from bytes: [UInt8], at offset: Int) -> T {
    var value: T = 0
    for i in 0..<MemoryLayout<T>.size { value |= T(bytes[offset + i]) << (8 * i) }
    return value
}

/// Where a GGUF tensor info's n_dims field sits, found by searching the raw bytes for the name with its u64
/// length prefix (independently of the reader under test). The info continues: ne[n_dims] u64, type u32, offset u64.
func tensorInfoNDimsOffset(in bytes: [UInt8], name: String) -> Int? {
    var needle: [UInt8] = []
    withUnsafeBytes(of: UInt64(name.utf8.count).littleEndian) { needle.append(contentsOf: $0) }
    needle.append(contentsOf: name.utf8)
    guard needle.count <= bytes.count else { return nil }
    for start in 0...(bytes.count - needle.count) where bytes[start..<(start + needle.count)].elementsEqual(needle) {
        return start + needle.count
    }
    return nil
}

/// One tensor for `writeSafetensors`: raw little-endian data in `dtype`.
struct RawTensor {
    var name: String
    var dtype: String
    var shape: [Int]
    var data: [UInt8]

    init(name: String, dtype: String, shape: [Int], data: [UInt8]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    init(_ t: StoredTensor) {
        let dtype = ["F32": "F32", "F16": "F16", "BF16": "BF16"][t.type.description] ?? t.type.description
        self.init(name: t.name, dtype: dtype, shape: t.shape, data: [UInt8](t.bytes))
    }

    init(name: String, floats: [Float], shape: [Int]) {
        self.init(name: name, dtype: "F32", shape: shape, data: floats.flatMap { f in
            withUnsafeBytes(of: f.bitPattern.littleEndian) { [UInt8]($0) }
        })
    }
}

/// Writes a safetensors file by hand (header JSON padded with `padding` spaces, then the data), to build sharded
/// and malformed inputs. `declaredHeaderLength` overrides the length field.
func writeSafetensors(_ tensors: [RawTensor], to url: URL, metadata: [String: String] = [:], padding: Int = 0,
                      declaredHeaderLength: UInt64? = nil) throws {
    var entries: [String] = []
    if !metadata.isEmpty {
        let pairs = metadata.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }
        entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
    }
    var data: [UInt8] = []
    for t in tensors {
        let begin = data.count
        data.append(contentsOf: t.data)
        let shape = t.shape.map(String.init).joined(separator: ",")
        entries.append("\"\(t.name)\":{\"dtype\":\"\(t.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(data.count)]}")
    }
    let header = Array(("{" + entries.joined(separator: ",") + "}" + String(repeating: " ", count: padding)).utf8)
    var bytes: [UInt8] = []
    withUnsafeBytes(of: (declaredHeaderLength ?? UInt64(header.count)).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: header)
    bytes.append(contentsOf: data)
    try write(bytes, to: url)
}

/// The HF name of a GGUF tensor (llama.cpp's LLM_TENSOR_NAMES for llama/qwen2, written out independently).
func hfName(ofGGUF name: String) -> String? {
    let top = ["token_embd.weight": "model.embed_tokens.weight", "output.weight": "lm_head.weight",
               "output_norm.weight": "model.norm.weight"]
    if let n = top[name] { return n }
    let parts = name.split(separator: ".")
    guard parts.count == 4, parts[0] == "blk" else { return nil }
    let inner = ["attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
                 "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
                 "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
                 "ffn_down": "mlp.down_proj"]
    guard let mapped = inner[String(parts[2])] else { return nil }
    return "model.layers.\(parts[1]).\(mapped).\(parts[3])"
}
