import ArgumentParser
import Foundation
import VaneActivations
import VaneEngine
import VaneModelIO
import VaneTensor

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one forward pass and save the logits and chosen hook points.",
        discussion: "Writes `logits` [T, V] and each hook as a tensor named by its hook name, e.g. "
            + "blocks.3.hook_resid_post [T, d] or blocks.3.attn.hook_result [T, H, d]: to safetensors, or, when "
            + "OUT ends in .h5 or .hdf5, to an activation store with one example at all positions.")

    @OptionGroup var model: ModelOptions
    @Option(help: "Plain text, encoded as the tokenizer does without a chat template.") var prompt: String?
    @Option(help: "Comma-separated token ids, e.g. 1,2,3.") var ids: String?
    @Option(parsing: .upToNextOption, help: "Hook names; `*` matches any layer (blocks.*.hook_resid_post).")
    var hooks: [String] = []
    @Option(name: .shortAndLong, help: "Output .safetensors, or .h5 / .hdf5 for an activation store.") var output: String

    func validate() throws {
        guard (prompt == nil) != (ids == nil) else { throw ValidationError("give exactly one of --prompt and --ids") }
        if try tokenIDs()?.isEmpty == true { throw ValidationError("--ids: give at least one token id") }
        try checkOutput(output, inputs: [model.model], extensions: ["safetensors", "h5", "hdf5"],
                        what: "a trace (safetensors, or an HDF5 store)")
    }

    /// The ids --ids gives, if any.
    func tokenIDs() throws -> [Int]? {
        try ids?.split(separator: ",").map {
            guard let v = Int($0.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--ids: \"\($0)\" is not an integer")
            }
            return v
        }
    }

    func run() throws {
        let m = try model.load()
        let tokens = try tokenIDs() ?? m.encode(prompt ?? "")
        guard !tokens.isEmpty else {
            throw VaneError("the prompt encodes to no tokens", hint: "give a non-empty --prompt, or --ids")
        }
        let points = try HookPoint.matching(hooks, layers: m.config.numHiddenLayers, experts: m.config.routes)
        let registry = Hooks()
        let capture = Capture()
        capture.attach(to: registry, points: points)
        let cache = m.transformer.makeCache(capacity: tokens.count)
        let logits = try m.transformer.forward(tokens, cache: cache, hooks: registry, logits: .all)
        var tensors: [(name: String, tensor: Tensor)] = [("logits", logits)]
        for p in points { tensors.append((p.description, capture.tensors[p]!)) }
        let url = URL(fileURLWithPath: output)
        if ["h5", "hdf5"].contains(url.pathExtension.lowercased()) {
            try writeTrace(model: m, text: prompt ?? m.tokenizer.decode(tokens), tokens: tokens, points: points,
                           activations: capture.tensors, logits: logits, to: url, commandLine: commandLine)
        } else {
            let ids = tokens.map(String.init).joined(separator: ",")
            try SafetensorsWriter.write(tensors, metadata: ["token_ids": ids, "model": m.files.url.path], to: url)
        }
        for (name, t) in tensors {
            let norms = (0..<t.rows).map { r in t.row(r).reduce(0) { $0 + $1 * $1 }.squareRoot() }
            print("  \(name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(t.shape)  mean row norm \(String(format: "%.3f", norms.reduce(0, +) / Float(max(norms.count, 1))))")
        }
        let top = Sampler.argmax(logits.row(logits.rows - 1))
        print("next token after the prompt: \(top) \(String(reflecting: m.tokenizer.decode([top])))")
        wrote(output, "trace of \(plural(tokens.count, "token")): logits and \(plural(points.count, "hook"))")
    }
}
