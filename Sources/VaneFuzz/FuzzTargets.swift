import Foundation
import VaneActivations
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneSteer
import VaneTokenizer

/// One parser fed arbitrary bytes. A thrown error is the parser doing its job; only a trap, a crash, an abort or
/// a hang is a finding (libFuzzer reports those; `replay` lets them happen in ordinary runs).
public enum FuzzTarget: String, CaseIterable, Sendable {
    case gguf, safetensors, config, tokenizer, template, jsonl, mergeYAML = "merge-yaml", hdf5, vector

    /// libFuzzer's -max_len: large enough for the seeds the target mutates, small enough to stay fast.
    public var maxLength: Int {
        switch self {
        case .gguf, .vector, .hdf5: 128 << 10
        case .safetensors: 64 << 10
        case .config, .template, .jsonl, .mergeYAML: 16 << 10
        case .tokenizer: 32 << 10
        }
    }

    /// Runs the parser on `data`; errors are swallowed.
    public func run(_ data: Data) {
        defer { try? FileManager.default.removeItem(at: Scratch.url(self)) }
        do {
            switch self {
            case .gguf:
                let file = try GGUFFile(url: Scratch.write(data, for: self))
                _ = try ModelConfig(gguf: file)
            case .safetensors:
                let url = try Scratch.write(data, for: self)
                let file = try SafetensorsFile(url: url)
                for t in file.tensors.prefix(4) { _ = dequantize(t) }
                _ = try TaskVector.File(url: url, spec: .llama)
            case .config:
                _ = try ModelConfig(configJSON: Scratch.write(data, for: self))
            case .tokenizer:
                let tokenizer = try BPETokenizer(tokenizerJSON: Scratch.write(data, for: self), tokenizerConfig: nil)
                _ = tokenizer.decode(tokenizer.encode("Hello <|im_start|> wörld 123 \u{1F600}"))
            case .template:
                let template = try ChatTemplate(source: String(decoding: data, as: UTF8.self))
                _ = try template.render(messages: Scratch.conversation, addGenerationPrompt: true, bosToken: "<s>",
                                        eosToken: "</s>", now: Date(timeIntervalSince1970: 0))
            case .jsonl:
                _ = try ExtractionInput(url: Scratch.write(data, for: self), model: Scratch.model(),
                                        span: .auto, positions: .last, skipBad: true)
            case .mergeYAML:
                _ = try MergeConfig(yaml: String(decoding: data, as: UTF8.self),
                                    directory: URL(fileURLWithPath: "/nonexistent"))
            case .hdf5:
                let store = try ActivationStore(url: Scratch.write(data, for: self))
                _ = try store.logits()
                if let hook = store.hooks.first { _ = try store.read(hook: hook) }
                if store.count > 0 { _ = try store.tokenIDs(example: 0) }
            case .vector:
                _ = try ControlVector(contentsOf: Scratch.write(data, for: self))
            }
        } catch {}
    }
}

/// Per-process scratch files (parsers take URLs) and the values shared by every run.
enum Scratch {
    nonisolated(unsafe) private static var loaded: LanguageModel?
    private static let directory: URL = {
        let shm = URL(fileURLWithPath: "/dev/shm")
        return FileManager.default.isWritableFile(atPath: shm.path) ? shm : FileManager.default.temporaryDirectory
    }()

    static func url(_ target: FuzzTarget) -> URL {
        directory.appendingPathComponent("vane-fuzz-\(getpid())-\(target.rawValue)")
    }

    /// Writes `data` to this process's scratch file for `target`; `run` removes it once the parser is done with it.
    static func write(_ data: Data, for target: FuzzTarget) throws -> URL {
        try data.write(to: url(target))
        return url(target)
    }

    static let conversation = [
        ChatMessage(role: "system", content: "Be brief."),
        ChatMessage(role: "user", content: "Hi <b>there</b>"),
        ChatMessage(role: "assistant", content: "Hello."),
        ChatMessage(role: "user", content: "2 + 2?"),
    ]

    /// The tiny-llama fixture, loaded on first use: JSONL lines are tokenized and rendered with it. Failing to
    /// load it is a broken setup, not a finding, and must not pass as an error of the input.
    static func model() -> LanguageModel {
        if let loaded { return loaded }
        let url = FuzzCorpus.repository.appendingPathComponent("Tests/Fixtures/tiny-llama")
        do {
            let model = try LanguageModel(url: url)
            loaded = model
            return model
        } catch {
            fatalError("vane-fuzz: cannot load \(url.path): \(error)")
        }
    }
}

/// Where a target's committed inputs live: Tests/Fuzz/<target>/{seeds,regressions,open}.
public enum FuzzCorpus {
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    public static func folder(_ target: FuzzTarget, _ kind: String) -> URL {
        repository.appendingPathComponent("Tests/Fuzz/\(target.rawValue)/\(kind)")
    }

    /// The regular files of `folder` in name order; none when it does not exist.
    public static func files(in folder: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted().map { folder.appendingPathComponent($0) }.filter {
            (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true
        }
    }
}
