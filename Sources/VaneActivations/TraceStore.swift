import Foundation
import VaneCore
import VaneEngine
import VaneModelIO
import VaneTensor

/// A trace (one forward pass) as an activation store: one example, all positions, each hook [T, …] as captured,
/// plus /logits [T, V]. Written to a temporary name and renamed, so OUTPUT appears only when complete.
public func writeTrace(model: LanguageModel, text: String, tokens: [Int], points: [HookPoint],
                       activations: [HookPoint: Tensor], logits: Tensor, to output: URL, commandLine: String) throws {
    try checkWritable(output)
    try checkPerToken(points)
    let provenance = StoreProvenance(
        tool: "trace", modelPath: model.files.url.path, modelSHA256: try ModelIdentity(files: model.files).sha256(),
        architecture: model.config.architecture, dims: modelDims(model.config), tokenizer: tokenizerDescription(model),
        chatTemplate: "", hooks: points.map(\.description), positions: .all, span: .input, inputPath: "",
        inputSHA256: "", batch: 1, deflate: 0, commandLine: commandLine)
    let temporary = output.deletingLastPathComponent()
        .appendingPathComponent(".\(output.lastPathComponent).\(UUID().uuidString).tmp")
    do {
        let writer = try ActivationWriter.create(at: temporary, provenance: provenance,
                                                 rowShapes: points.map(model.transformer.rowShape))
        let rows = try points.map { point in
            guard let tensor = activations[point] else { throw VaneError("no activation captured for \(point)") }
            return tensor.data
        }
        try writer.append([ExtractedExample(text: text, label: -1, pair: -1, line: 0, tokens: tokens,
                                            promptTokens: tokens.count, span: 0..<tokens.count, activations: rows)])
        try writer.writeLogits(logits)
        try writer.close()
        try replace(output, with: temporary)
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw error
    }
}

/// Refuses hook points an activation store cannot hold: a store keeps one row per token (or example), and
/// attn.hook_pattern [H, T, S] has none.
func checkPerToken(_ points: [HookPoint]) throws {
    guard let p = points.first(where: { !$0.isPerToken }) else { return }
    throw VaneError("\(p) is [heads, queries, positions], not one row per token, so an activation store cannot hold it",
                    hint: "trace it to a .safetensors file (vane trace --output x.safetensors), or name hooks that exclude it")
}
