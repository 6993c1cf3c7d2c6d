import ArgumentParser
import Foundation
import VaneEngine
import VaneModelIO

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's architecture, dimensions, tensor types, tokenizer and chat template.")

    @OptionGroup var model: ModelOptions

    func run() throws {
        let m = try model.load()
        let c = m.config, f = m.files
        var types: [String: Int] = [:]
        for t in f.tensors.values { types[t.type.description, default: 0] += 1 }
        print("model          \(f.url.path)")
        print("format         \(f.isGGUF ? "GGUF" : "HF safetensors folder"), \(formatBytes(f.fileBytes))")
        print("architecture   \(c.architecture)")
        print("layers         \(c.numHiddenLayers)")
        print("hidden         \(c.hiddenSize)   intermediate \(c.intermediateSize)")
        print("heads          \(c.numAttentionHeads) (key/value \(c.numKeyValueHeads), head dim \(c.headDim))")
        print("context        \(c.maxPositionEmbeddings)   rope θ \(c.ropeTheta) (\(c.ropeStyle.rawValue) pairs)")
        if let s = c.ropeScaling {
            print("rope scaling   llama3: factor \(s.factor), low/high frequency factors \(s.lowFreqFactor)/\(s.highFreqFactor), original context \(s.originalMaxPositionEmbeddings)")
        } else if f.tensors[ConfigKeys.ropeFreqs] != nil {
            print("rope scaling   per-frequency divisors (\(ConfigKeys.ropeFreqs))")
        }
        if let w = c.slidingWindow { print("attention      sliding window of \(w) positions") }
        print("vocabulary     \(c.vocabSize)   tied embeddings \(c.tieWordEmbeddings)   qkv bias \(c.attentionBias)")
        if let moe = c.moe {
            print("experts        \(moe.experts), top \(moe.expertsPerToken)\(moe.normTopKProb ? " renormalised" : ""), width \(moe.expertIntermediateSize)"
                  + (moe.sharedExpertIntermediateSize > 0 ? ", shared expert \(moe.sharedExpertIntermediateSize)" : "")
                  + (moe.denseLayers.isEmpty ? "" : ", dense layers \(moe.denseLayers.map(String.init).joined(separator: ","))"))
        }
        print("tensors        \(f.tensors.count): " + types.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        let tk = m.tokenizer
        print("tokenizer      byte-level BPE, \(tk.vocabSize) tokens, BOS \(tk.bosID.map { tk.piece($0) } ?? "none")"
              + " (\(tk.addsBOS ? "added" : "not added")), EOS \(tk.eosID.map { tk.piece($0) } ?? "none")")
        if let t = m.chatTemplate?.source {
            print("chat template  \(t.count) characters: \(t.prefix(60).replacingOccurrences(of: "\n", with: "⏎"))…")
        } else {
            print("chat template  none")
        }
        for (key, value) in f.provenance { print("\(key.padding(toLength: max(14, key.count), withPad: " ", startingAt: 0)) \(value)") }
    }
}
