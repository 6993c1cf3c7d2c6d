import Foundation
import VaneEngine
import VaneModelIO
import VaneTokenizer

// Extraction input: JSONL, one example per line (blank lines are skipped), in the forms researchers use:
//
//   {"prompt": "…"}                                  plain text, encoded as the tokenizer does (BOS per the file)
//   {"messages": [{"role": …, "content": …}, …]}     rendered with the model's chat template; when the last
//                                                    message is the assistant's, it is the completion
//   {"prompt" | "messages": …, "completion": "…"}    teacher forcing: the completion's tokens follow the prompt's
//   {"positive": X, "negative": Y}                   a contrastive pair; X and Y are strings (prompts) or objects
//                                                    of the forms above; stored as two examples sharing a pair id,
//                                                    labels 1 and 0
//
// Any form but a pair may carry an integer (or boolean) "label". Other keys are ignored. Prompt and completion
// are tokenized separately (no special tokens added to the completion), so the boundary between them is exact.
//
// Sharding (`--shard K/N`) splits the example lines (the non-blank ones) into N contiguous ranges of nearly equal
// length, in file order: shard K takes lines (K−1)·M/N ..< K·M/N of the M example lines (integer division). Shard
// stores keep the file's line numbers; pair ids count from 0 within each shard, and `vane store merge` offsets them
// by the pairs of the shards before, so concatenating shards 1…N in order gives what one run over the file gives.

/// Which part of the input one process extracts: shard `index` (1-based) of `count`.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, (1...count).contains(index) else {
            throw VaneError("shard \(index)/\(count): give K/N with 1 ≤ K ≤ N, e.g. 1/4")
        }
        self.index = index
        self.count = count
    }

    /// Parses "K/N".
    public init(_ text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else {
            throw VaneError("--shard \(text): give K/N, e.g. 2/8 for the second of eight shards")
        }
        try self.init(index: k, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// The positions of this shard's example lines among `lines` example lines.
    public func range(of lines: Int) -> Range<Int> {
        (index - 1) * lines / count ..< index * lines / count
    }
}

/// One example ready to run: its tokens, where the prompt ends, and the span its positions come from.
public struct InputExample: Sendable {
    /// 1-based line in the input file.
    public var line: Int
    /// The rendered input (prompt + completion).
    public var text: String
    public var tokens: [Int]
    public var promptTokens: Int
    public var label: Int
    public var pair: Int
    public var span: Range<Int>
}

/// The examples of one JSONL file, tokenized, with spans resolved.
public struct ExtractionInput: Sendable {
    public let url: URL
    public let examples: [InputExample]
    /// Lines skipped with `skipBad`, each as "file:line: reason".
    public let skipped: [VaneError]
    /// Whether any example was rendered with the chat template.
    public let usedChatTemplate: Bool

    /// Reads `url`, or with `shard` only that shard's lines (more shards than example lines is an error). A bad
    /// line is an error, or with `skipBad` a skipped line; a file with no examples is an error, but a shard whose
    /// lines were all skipped is empty, so that the shards still add up to the file. Spans start at `skipFirst` at
    /// the earliest (nil: `positions.defaultSkipFirst`).
    public init(url: URL, model: LanguageModel, span: SpanRule, positions: PositionMode, skipFirst: Int? = nil,
                skipBad: Bool, shard: Shard? = nil) throws {
        self.url = url
        let file = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw VaneError("\(file): cannot read the file (\(error.localizedDescription))")
        }
        var reader = LineParser(model: model, span: span, positions: positions,
                                skipFirst: skipFirst ?? positions.defaultSkipFirst)
        var examples: [InputExample] = []
        var skipped: [VaneError] = []
        var firstReason: String?
        var lines: [(index: Int, text: String)] = []
        for (index, rawLine) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .enumerated() {
            let line = String(decoding: rawLine, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !line.isEmpty { lines.append((index, line)) }
        }
        if let shard {
            guard shard.count <= lines.count else {
                throw VaneError("\(file): \(lines.count) example lines cannot make \(shard.count) shards "
                    + "(--shard \(shard)); give N ≤ \(lines.count)")
            }
            lines = Array(lines[shard.range(of: lines.count)])
        }
        for (index, line) in lines {
            do {
                examples += try reader.parse(line, number: index + 1)
            } catch let error as BadLine {
                let bad = VaneError("\(file):\(index + 1): \(error.message)")
                guard skipBad else { throw bad }
                skipped.append(bad)
                firstReason = firstReason ?? error.message
            }
        }
        guard !examples.isEmpty || (shard != nil && !skipped.isEmpty) else {
            let reason = firstReason.map {
                "holds no usable examples: all \(skipped.count) lines were bad; the first: \($0)"
            } ?? "holds no examples (one JSON object per line)"
            throw VaneError("\(file): \(reason)")
        }
        self.examples = examples
        self.skipped = skipped
        usedChatTemplate = reader.usedChatTemplate
    }
}

/// Why a line cannot become an example; ExtractionInput adds the file and line.
private struct BadLine: Error {
    let message: String
}

/// Turns one JSON line into one example, or two for a contrastive pair.
private struct LineParser {
    let model: LanguageModel
    let span: SpanRule
    let positions: PositionMode
    let skipFirst: Int
    var nextPair = 0
    var usedChatTemplate = false

    init(model: LanguageModel, span: SpanRule, positions: PositionMode, skipFirst: Int) {
        self.model = model
        self.span = span
        self.positions = positions
        self.skipFirst = skipFirst
    }

    mutating func parse(_ line: String, number: Int) throws -> [InputExample] {
        func fail(_ message: String) -> BadLine { BadLine(message: message) }
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw fail("expected a JSON object, e.g. {\"prompt\": \"…\"}")
            }
            object = parsed
        } catch let error as BadLine {
            throw error
        } catch {
            throw fail("not valid JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] ?? error))")
        }
        if object["positive"] != nil || object["negative"] != nil {
            guard let positive = object["positive"], let negative = object["negative"] else {
                throw fail("a contrastive pair needs both \"positive\" and \"negative\"")
            }
            guard object["label"] == nil else {
                throw fail("a contrastive pair takes no \"label\": positive is 1, negative 0")
            }
            let pair = nextPair
            var out: [InputExample] = []
            for (side, value, label) in [("positive", positive, 1), ("negative", negative, 0)] {
                let sideObject: [String: Any]
                if let text = value as? String {
                    sideObject = ["prompt": text]
                } else if let nested = value as? [String: Any] {
                    sideObject = nested
                } else {
                    throw fail("\"\(side)\" must be a string or an object like {\"prompt\": …}")
                }
                do {
                    out.append(try example(sideObject, line: number, label: label, pair: pair))
                } catch let error as BadLine {
                    throw fail("\"\(side)\": \(error.message)")
                }
            }
            nextPair += 1
            return out
        }
        let label: Int
        switch object["label"] {
        case nil: label = -1
        case let value as Bool: label = value ? 1 : 0
        case let value as NSNumber where value.doubleValue == Double(value.intValue): label = value.intValue
        default: throw fail("\"label\" must be an integer or a boolean")
        }
        return [try example(object, line: number, label: label, pair: -1)]
    }

    private mutating func example(_ object: [String: Any], line: Int, label: Int, pair: Int) throws -> InputExample {
        func fail(_ message: String) -> BadLine { BadLine(message: message) }
        var completion: String?
        if let value = object["completion"] {
            guard let text = value as? String else { throw fail("\"completion\" must be a string") }
            completion = text
        }
        let promptText: String
        var promptIDs: [Int]
        if let prompt = object["prompt"] {
            guard let text = prompt as? String else { throw fail("\"prompt\" must be a string") }
            guard object["messages"] == nil else { throw fail("give \"prompt\" or \"messages\", not both") }
            promptText = text
            promptIDs = model.encode(text)
        } else if let value = object["messages"] {
            guard let list = value as? [[String: Any]], !list.isEmpty else {
                throw fail("\"messages\" must be a non-empty list of {\"role\": …, \"content\": …}")
            }
            var messages = try list.enumerated().map { index, message in
                guard let role = message["role"] as? String, let content = message["content"] as? String else {
                    throw fail("messages[\(index)] needs string \"role\" and \"content\"")
                }
                return ChatMessage(role: role, content: content)
            }
            usedChatTemplate = true
            do {
                if messages.count > 1, messages.last?.role == "assistant", completion == nil {
                    // The assistant's reply is the completion: the prompt is the conversation before it with the
                    // assistant turn opened, and must be a prefix of the whole rendered conversation.
                    let whole = try model.renderChat(messages, addGenerationPrompt: false)
                    messages.removeLast()
                    let prompt = try model.renderChat(messages, addGenerationPrompt: true)
                    guard whole.hasPrefix(prompt) else {
                        throw fail("the chat template does not render the reply after the opened assistant turn; "
                            + "give the reply as \"completion\" instead")
                    }
                    completion = String(whole.dropFirst(prompt.count))
                    promptText = prompt
                } else {
                    promptText = try model.renderChat(messages, addGenerationPrompt: true)
                }
            } catch let error as BadLine {
                throw error
            } catch {
                throw fail("\(error)")
            }
            promptIDs = model.tokenizer.encode(promptText, addSpecial: false)
        } else {
            throw fail("needs \"prompt\", \"messages\", or \"positive\" and \"negative\"; keys here: "
                + (object.keys.sorted().joined(separator: ", ")))
        }
        guard !(promptText + (completion ?? "")).contains("\u{0}") else {
            throw fail("the text holds a NUL character, which the store's HDF5 strings cannot hold")
        }
        let promptCount = promptIDs.count
        if let completion { promptIDs += model.tokenizer.encode(completion, addSpecial: false) }
        let tokens = promptIDs
        guard !tokens.isEmpty else { throw fail("the input encodes to no tokens") }
        let limit = model.config.maxPositionEmbeddings
        guard tokens.count <= limit else {
            throw fail("\(tokens.count) tokens exceed the model's context of \(limit)")
        }
        let resolved = try resolveSpan(tokens: tokens, promptCount: promptCount, hasCompletion: completion != nil,
                                       fail: fail)
        let range = min(max(resolved.lowerBound, skipFirst), resolved.upperBound)..<resolved.upperBound
        guard positions == .all || !range.isEmpty else {
            if !resolved.isEmpty {
                throw fail("the \(span) span (positions \(resolved.lowerBound)..<\(resolved.upperBound)) is empty once "
                    + "positions before \(skipFirst) are left out (--skip-first \(skipFirst)); `\(positions)` needs at "
                    + "least one token: give --skip-first 0 or a longer input")
            }
            throw fail("the \(span) span is empty; `\(positions)` needs at least one token")
        }
        if case .index(let k) = positions, !(-range.count..<range.count).contains(k) {
            throw fail("index:\(k) is outside the \(span) span of \(range.count) tokens")
        }
        return InputExample(line: line, text: promptText + (completion ?? ""), tokens: tokens,
                            promptTokens: promptCount, label: label, pair: pair, span: range)
    }

    private func resolveSpan(tokens: [Int], promptCount: Int, hasCompletion: Bool,
                             fail: (String) -> BadLine) throws -> Range<Int> {
        switch span {
        case .input: return 0..<tokens.count
        case .prompt: return 0..<promptCount
        case .auto: return hasCompletion ? promptCount..<tokens.count : 0..<tokens.count
        case .completion:
            guard hasCompletion else { throw fail("--span completion, but the example has no completion") }
            return promptCount..<tokens.count
        case .markers(let start, let end):
            // Byte offsets of each token in the decoded text; markers are found in the same bytes.
            var starts: [Int] = []
            var bytes: [UInt8] = []
            for id in tokens {
                starts.append(bytes.count)
                bytes += model.tokenizer.bytes(of: id)
            }
            guard let open = find(Array(start.utf8), in: bytes, from: 0) else {
                throw fail("span start marker \(String(reflecting: start)) not found")
            }
            let inside = open + start.utf8.count
            guard let close = find(Array(end.utf8), in: bytes, from: inside) else {
                throw fail("span end marker \(String(reflecting: end)) not found after the start marker")
            }
            let first = starts.firstIndex { $0 >= inside } ?? tokens.count
            let last = starts.firstIndex { $0 >= close } ?? tokens.count
            return first..<max(first, last)
        }
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else {
            return nil
        }
        return (start...(haystack.count - needle.count)).first { i in
            haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle)
        }
    }
}
