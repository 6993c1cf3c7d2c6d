import Foundation
import VaneModelIO
import VaneTensor

/// A tiny model of Tests/Fixtures/arch/tiny-<family>/ with its transformers reference: prompts with their ids
/// and 12 greedy tokens (reference.json), and `p{i}.logits` / `p{i}.resid_post.{L}` (reference.safetensors).
public struct ArchReference {
    public struct Prompt: Decodable {
        public var text: String
        public var ids: [Int]
        public var greedy_next_12: [Int]
    }
    struct File: Decodable { var prompts: [Prompt] }

    public let folder: URL
    public let prompts: [Prompt]
    public let tensors: [String: Tensor]

    public init(_ family: String) throws {
        folder = Fixtures.url("arch/tiny-\(family)")
        prompts = try JSONDecoder().decode(File.self, from: Data(contentsOf: folder.appendingPathComponent("reference.json"))).prompts
        tensors = try loadReference(folder.appendingPathComponent("reference.safetensors"))
    }

    /// llama.cpp's convert_hf_to_gguf.py output for the same model.
    public var llamaCppGGUF: URL { folder.appendingPathComponent("llamacpp.f32.gguf") }

    /// Compares `actual` with reference tensor `name` to `rel` × the reference's largest magnitude; nil when
    /// within, else a message with the first mismatches.
    public func check(_ actual: [Float], _ name: String, rel: Float = 1e-4, label: String) -> String? {
        guard let expected = tensors[name] else { return "\(label): the reference has no \(name)" }
        let scale = expected.data.reduce(0) { max($0, abs($1)) }
        return compare(actual, expected.data, atol: rel * scale, label: "\(label) \(name) (tolerance \(rel) × max \(scale))")
    }
}
