import Foundation
import VaneStore

// An activation store is one HDF5 file per extraction run (`vane extract`) or trace (`vane trace -o X.h5`),
// readable by h5py as is. Layout, format "vane.activations", version 1:
//
//   /  (root attributes, provenance)
//     format "vane.activations"        format_version 1             tool "extract" | "trace"
//     model_path                       model_sha256 (the model's identity, ModelIdentity.swift in VaneModelIO: the
//                                      .gguf's sha256; for an HF folder, of the newline-joined sha256 digests of
//                                      config.json and each safetensors shard in name order)
//     architecture                     dims [hidden_size, layers, heads, kv_heads, head_dim, vocab_size] (int64)
//     tokenizer                        where the vocabulary came from and whether BOS is added
//     chat_template                    the template text used to render `messages` ("" when none was used)
//     hooks [string]                   hook names, one float32 dataset each, in forward order
//     positions "last" | "mean" | "all" | "index:K"
//     span "auto" | "input" | "prompt" | "completion" | "markers"      span_markers [start, end] ([] unless markers)
//     skip_first (int64)               input positions 0..<skip_first left out of every span (1 for mean: the
//                                      attention sink); absent in older stores, read as 0
//     input_path, input_sha256         the JSONL file read ("" for a trace)
//     batch (examples per flush)       deflate (0 = none, else the level)
//     command_line, vane_version, created (ISO 8601, UTC)
//     shard [K, N] (int64)             only in a store of `vane extract --shard K/N`: which contiguous part of the
//                                      input's example lines it holds (ExtractionInput.swift); `vane store merge`
//                                      joins shards 1…N into the store one run writes (StoreMerge.swift)
//     n_examples                       examples complete: rewritten just before each flush; rows past it (a batch
//                                      cut short by a kill) are not part of the store
//
//   /examples/text [N] string           the rendered input (prompt + completion), variable-length UTF-8
//   /examples/label [N] int64           the example's label (contrastive pairs: positive 1, negative 0), −1 if none
//   /examples/pair [N] int64            pair id shared by a positive and its negative, −1 if none
//   /examples/line [N] int64            1-based line of the example in the input file (0 for a trace)
//   /examples/n_tokens [N] int64        tokens of the whole input
//   /examples/n_prompt_tokens [N] int64 tokens of the prompt part (= n_tokens when there is no completion)
//   /examples/span [N, 2] int64         token range [start, end) the positions were taken from
//   /examples/token_ids [Σ n_tokens] int64   example i's ids start at n_tokens[0] + … + n_tokens[i−1]
//
//   /<hook name> float32, one per hook ("blocks.3.hook_resid_post", "blocks.3.attn.hook_result", …):
//     pooled positions (last, mean, index:K):  [N, d], or [N, H, d] / [N, H, hd] for per-head hooks
//     all positions:                           [Σ T, d] (…) with T = span length, rows of example i at
//   /token_offsets [N + 1] int64              token_offsets[i] ..< token_offsets[i + 1]   (all positions only)
//   /logits [T, V] float32                    a trace's logits (trace only; one example, all positions)
//
// A store merged with `vane store merge --virtual` holds its hook datasets as HDF5 virtual datasets over the shard
// files (fixed shape, named relative to its folder); everything else is as below.
//
// Every dataset is chunked along axis 0 with an unlimited axis 0 (extendable) and optionally deflated. The writer
// appends each batch to every dataset, sets n_examples, then flushes, so a killed run leaves a file that opens
// with every flushed batch; `--resume` truncates to n_examples and continues.

/// Names and constants of the store layout.
public enum StoreLayout {
    public static let format = "vane.activations"
    public static let formatVersion: Int64 = 1

    public static let text = "examples/text"
    public static let label = "examples/label"
    public static let pair = "examples/pair"
    public static let line = "examples/line"
    public static let nTokens = "examples/n_tokens"
    public static let nPromptTokens = "examples/n_prompt_tokens"
    public static let span = "examples/span"
    public static let tokenIDs = "examples/token_ids"
    public static let tokenOffsets = "token_offsets"
    public static let logits = "logits"
}

/// Where positions are taken from, per example.
public enum SpanRule: Equatable, Sendable, CustomStringConvertible {
    /// The completion when the example has one, else the whole input.
    case auto
    /// The whole input.
    case input
    case prompt
    case completion
    /// The tokens that begin after the first `start` marker and before the first `end` marker after it
    /// (ThinkEdit averages over `<think>` … `</think>`).
    case markers(start: String, end: String)

    public var description: String {
        switch self {
        case .auto: "auto"
        case .input: "input"
        case .prompt: "prompt"
        case .completion: "completion"
        case .markers: "markers"
        }
    }

    /// Parses `--span` (auto, input, prompt, completion); markers come from `--span-start`/`--span-end`.
    public init?(_ name: String) {
        switch name {
        case "auto": self = .auto
        case "input": self = .input
        case "prompt": self = .prompt
        case "completion": self = .completion
        default: return nil
        }
    }
}

/// Which positions of a span become rows of a hook's dataset.
public enum PositionMode: Equatable, Sendable, CustomStringConvertible {
    /// The span's last token: one row per example.
    case last
    /// The mean over the span: one row per example.
    case mean
    /// Every token of the span: T rows per example, indexed by /token_offsets.
    case all
    /// The span's token K (0-based; negative counts from the end, −1 = last): one row per example.
    case index(Int)

    public var description: String {
        switch self {
        case .last: "last"
        case .mean: "mean"
        case .all: "all"
        case .index(let k): "index:\(k)"
        }
    }

    /// Parses `last`, `mean`, `all` or `index:K`.
    public init?(_ text: String) {
        switch text {
        case "last": self = .last
        case "mean": self = .mean
        case "all": self = .all
        default:
            guard text.hasPrefix("index:"), let k = Int(text.dropFirst("index:".count)) else { return nil }
            self = .index(k)
        }
    }

    /// One row per example (everything but `all`).
    public var isPooled: Bool { self != .all }

    /// Input positions left out of every span unless asked otherwise: 1 for `mean`, whose average the first
    /// token (the attention sink, with a residual norm ~100× the others' in SmolLM2 and many other models) would
    /// otherwise dominate; 0 for the modes that pick rows.
    public var defaultSkipFirst: Int { self == .mean ? 1 : 0 }
}
