import Foundation
import VaneTensor

/// The tiny models of Tests/Fixtures/arch/ (HF transformers 5.24 references, see Tests/Fixtures/README.md "arch/").
public enum ArchFixtures {
    public struct Prompt: Decodable {
        public var text: String
        public var ids: [Int]
        public var greedy_next_12: [Int]
    }

    struct Reference: Decodable { var prompts: [Prompt] }

    public static func folder(_ family: String) -> URL { Fixtures.url("arch/tiny-\(family)") }

    /// llama.cpp's own conversion of the folder (convert_hf_to_gguf.py, F32).
    public static func llamaCppGGUF(_ family: String) -> URL { folder(family).appendingPathComponent("llamacpp.f32.gguf") }

    public static func prompts(_ family: String) throws -> [Prompt] {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: folder(family).appendingPathComponent("reference.json"))).prompts
    }

    /// `p{i}.logits` [T, V] and `p{i}.resid_post.{L}` [T, d].
    public static func tensors(_ family: String) throws -> [String: Tensor] {
        try loadReference(folder(family).appendingPathComponent("reference.safetensors"))
    }
}

/// `compare` with the tolerance relative to the expected tensor's largest magnitude: |a − e| ≤ rel · max|e|.
public func compareRelative(_ actual: [Float], _ expected: [Float], rel: Float, label: String) -> String? {
    let scale = expected.reduce(Float(0)) { max($0, abs($1)) }
    return compare(actual, expected, atol: rel * max(scale, Float.leastNormalMagnitude), label: "\(label) (max |e| \(scale))")
}
