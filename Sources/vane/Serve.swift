import ArgumentParser
import Foundation
import VaneEngine
import VaneServe

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the model over an OpenAI-compatible HTTP API, with steering chosen per request.",
        discussion: """
            Endpoints: POST /v1/chat/completions and /v1/completions (streamed with "stream": true), \
            POST /v1/activations, GET /v1/models, GET /health, GET /metrics (Prometheus). A request steers with \
            "steering": [{"vector": NAME, "scale": S, "layers": "6-18", "op": "add", "positions": "all"}], NAME \
            being a file NAME.gguf in --vectors. Concurrent requests share one batch, each with its own steering. \
            SIGTERM stops taking requests, lets running ones finish for --drain-timeout seconds, then exits. See \
            docs/serve.md.
            """)

    @OptionGroup var model: ModelOptions
    @Option(help: "Address to listen on (loopback unless told otherwise).") var host = "127.0.0.1"
    @Option(help: "Port to listen on; 0 picks a free one (printed on stderr).") var port = 8080
    @Option(help: "Directory of control vectors NAME.gguf that requests may name.") var vectors: String?
    @Option(help: "Sequences decoded together at most.") var maxBatch = 16
    @Option(help: "Requests waiting for a place in the batch at most; more get 429.") var maxQueue = 64
    @Option(help: "The largest max_tokens a request may ask for.") var maxTokensLimit = 2048
    @Option(help: "Require \"Authorization: Bearer KEY\" on /v1/ routes.") var apiKey: String?
    @Option(help: "The model id clients send as `model` (default: MODEL's file or folder name).") var name: String?
    @Option(help: "Seconds a request may take, waiting included, before it ends with 504.") var requestTimeout = 600.0
    @Option(help: "Largest request body in bytes; larger ones get 413.") var maxBodyBytes = 4 << 20
    @Option(help: "Seconds SIGTERM waits for running requests before ending them.") var drainTimeout = 30.0
    @Flag(help: "Multiply in f32 over dequantized weights instead of 8-bit activation dot products (slower).")
    var exact = false
    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port): give 0…65535") }
        guard (1...256).contains(maxBatch) else { throw ValidationError("--max-batch \(maxBatch): give 1…256") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must be ≥ 0") }
        guard maxTokensLimit >= 1 else { throw ValidationError("--max-tokens-limit must be at least 1") }
        guard requestTimeout > 0, drainTimeout >= 0 else { throw ValidationError("--request-timeout must be > 0 and --drain-timeout ≥ 0") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        if apiKey?.isEmpty == true { throw ValidationError("--api-key is empty") }
        if let vectors {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: vectors, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--vectors \(vectors): no such directory")
            }
        }
    }

    func run() async throws {
        threads.apply()
        let m = try LanguageModel(model.model, decoding: exact ? .exact : .fast)
        var options = ServerOptions(modelName: name ?? m.files.url.deletingPathExtension().lastPathComponent)
        options.host = host
        options.port = port
        options.vectors = vectors.map { URL(fileURLWithPath: $0) }
        options.maxBatch = maxBatch
        options.maxQueue = maxQueue
        options.maxTokensLimit = maxTokensLimit
        options.apiKey = apiKey
        options.requestTimeout = requestTimeout
        options.maxBodyBytes = maxBodyBytes
        options.drainSeconds = drainTimeout
        if !["127.0.0.1", "localhost", "::1"].contains(host) && apiKey == nil {
            note("warning: listening on \(host) without --api-key: anyone who reaches this address can use the model")
        }
        let id = options.modelName
        try await Server(model: m, options: options).run { host, port in
            note("vane serve: \(id) on http://\(host):\(port) (max batch \(maxBatch), queue \(maxQueue))")
        }
        note("vane serve: stopped")
    }
}
