import Foundation
import Testing
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// `vane serve` on SmolLM2, started on a free loopback port, against the real `openai` Python client, raw HTTP and
/// `vane generate` / `vane trace` of the same requests. Every wait is bounded (client timeouts of 120 s, server
/// start and exit within 60 s).
@Suite(.enabled(if: Fixtures.smollm2 != nil && VaneProcess.binary != nil,
                "needs SmolLM2 (`vane fetch smollm2`) and a built vane"))
struct ServeTests {
    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("vectors")

    func start(_ arguments: [String] = []) throws -> ServerProcess {
        try ServerProcess(model: try #require(Fixtures.smollm2), ["--vectors", Self.vectors.path] + arguments)
    }

    func modelID(_ server: ServerProcess) async throws -> String {
        let data = try await server.request("GET", "/v1/models").json["data"] as? [[String: Any]]
        return try #require(data?.first?["id"] as? String)
    }

    /// What `vane generate --chat PROMPT --temperature 0 --max-tokens N [--steer …]` prints on stdout, without the
    /// newline it ends with.
    func generate(_ prompt: String, maxTokens: Int, steer: [String] = []) throws -> String {
        let model = try #require(Fixtures.smollm2)
        let process = Process()
        process.executableURL = try #require(VaneProcess.binary)
        process.arguments = ["generate", model.path, "--chat", prompt, "--temperature", "0", "--max-tokens", String(maxTokens),
                             "--threads", "2"] + steer.flatMap { ["--steer", $0] }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "vane generate \(steer) failed")
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    @Test(.enabled(if: OpenAIClient.available, "the openai package is missing: scripts/test.sh installs it"))
    func openAIClientPlainAndStreamedChat() async throws {
        let server = try start()
        let model = try await modelID(server)
        let prompt = "What is the capital of France? Answer in one sentence."
        let result = try #require(try OpenAIClient.json([server.base, "chat", model, prompt, "24"]) as? [String: Any])
        let expected = try generate(prompt, maxTokens: 24)
        #expect(result["models"] as? [String] == [model])
        #expect(result["plain"] as? String == expected, "plain chat vs vane generate")
        #expect(result["streamed"] as? String == expected, "streamed chat vs vane generate")
        #expect((result["streamed_pieces"] as? Int ?? 0) > 1, "the stream came in one piece")
        #expect(result["plain_finish"] as? String == result["streamed_finish"] as? String)
        #expect(try await server.metric("vane_batch_sequences") == 0, "the batch is empty once both answers are in")
        let usage = try #require(result["plain_usage"] as? [String: Any])
        #expect(usage["completion_tokens"] as? Int ?? 0 > 0)
        #expect((result["streamed_usage"] as? [String: Any])?["total_tokens"] as? Int == usage["total_tokens"] as? Int)
        #expect(server.terminate() == 0)
    }

    /// 8 concurrent requests, two prompts under four steerings: each text equals `vane generate` with the same
    /// --steer, and the steps ran more than one sequence at a time.
    @Test(.enabled(if: OpenAIClient.available, "the openai package is missing: scripts/test.sh installs it"))
    func concurrentRequestsWithDifferentSteering() async throws {
        let server = try start()
        let model = try await modelID(server)
        let steerings: [(cli: [String], json: [[String: Any]])] = [
            ([], []),
            (["\(Self.vectors.path)/concise-smollm2.gguf:0.3"], [["vector": "concise-smollm2", "scale": 0.3]]),
            (["\(Self.vectors.path)/concise-smollm2.gguf:-0.15@positions=generated"],
             [["vector": "concise-smollm2", "scale": -0.15, "positions": "generated"]]),
            (["\(Self.vectors.path)/efficiency-smollm2.gguf:0.5@layers=8-14",
              "\(Self.vectors.path)/concise-smollm2.gguf:1@op=ablate"],
             [["vector": "efficiency-smollm2", "scale": 0.5, "layers": "8-14"],
              ["vector": "concise-smollm2", "op": "ablate"]]),
        ]
        let prompts = ["How do plants make food?", "Name three prime numbers and explain why they are prime."]
        var spec: [[String: Any]] = []
        var expected: [String] = []
        for prompt in prompts {
            for s in steerings {
                spec.append(["prompt": prompt, "max_tokens": 40, "steering": s.json])
                expected.append(try generate(prompt, maxTokens: 40, steer: s.cli))
            }
        }
        #expect(Set(expected).count >= 6, "the steerings should change the texts: \(expected)")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vane-serve-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try JSONSerialization.data(withJSONObject: spec).write(to: file)
        let texts = try #require(try OpenAIClient.json([server.base, "batch", model, file.path]) as? [String])
        for i in expected.indices {
            let got = i < texts.count ? texts[i] : "<none>"
            #expect(got == expected[i], "request \(i) (prompt \(i / 4), steering \(i % 4)): server vs vane generate")
        }
        let single = try await server.metric("vane_batch_occupancy_bucket{le=\"1.0\"}") ?? 0
        let steps = try #require(try await server.metric("vane_batch_occupancy_count"))
        #expect(steps > single, "no step ran more than one sequence (\(single) of \(steps) single)")
        #expect(server.terminate() == 0)
    }

    @Test func malformedRequestsGetTheirStatusCodes() async throws {
        let server = try start(["--max-body-bytes", "4096", "--max-tokens-limit", "64"])
        let model = try await modelID(server)
        func chat(_ extra: [String: Any]) -> [String: Any] {
            ["model": model, "messages": [["role": "user", "content": "hi"]], "max_tokens": 4].merging(extra) { $1 }
        }
        let cases: [(name: String, body: Any?, raw: Data?, status: Int, param: String?)] = [
            ("invalid JSON", nil, Data("{\"model\": ".utf8), 400, nil),
            ("not an object", [1, 2], nil, 400, nil),
            ("wrong type", chat(["temperature": "hot"]), nil, 400, "temperature"),
            ("out of range", chat(["temperature": 7]), nil, 400, "temperature"),
            ("unknown field", chat(["temprature": 0.5]), nil, 400, "temprature"),
            ("unknown vector", chat(["steering": [["vector": "nope", "scale": 1]]]), nil, 400, "steering[0].vector"),
            ("path as vector", chat(["steering": [["vector": "../vectors/concise-smollm2"]]]), nil, 400, "steering[0].vector"),
            ("bad scale", chat(["steering": [["vector": "concise-smollm2", "scale": "big"]]]), nil, 400, "steering[0].scale"),
            ("huge scale", chat(["steering": [["vector": "concise-smollm2", "scale": 1e9]]]), nil, 400, "steering[0].scale"),
            ("bad layers", chat(["steering": [["vector": "concise-smollm2", "layers": "40-50"]]]), nil, 400, "steering[0].layers"),
            ("clamp without value", chat(["steering": [["vector": "concise-smollm2", "op": "clamp"]]]), nil, 400, "steering[0].value"),
            ("max_tokens over the limit", chat(["max_tokens": 65]), nil, 400, "max_tokens"),
            ("no messages", ["model": model], nil, 400, "messages"),
            ("stream_options without stream", chat(["stream_options": ["include_usage": true]]), nil, 400, "stream_options"),
            ("n > 1", chat(["n": 2]), nil, 400, "n"),
            ("wrong model", chat(["model": "gpt-4"]), nil, 404, "model"),
            ("body too large", chat(["messages": [["role": "user", "content": String(repeating: "word ", count: 2000)]]]),
             nil, 413, nil),
        ]
        for c in cases {
            let reply = try await server.request("POST", "/v1/chat/completions", json: c.body, raw: c.raw)
            #expect(reply.status == c.status, "\(c.name): \(reply.status) \(reply.text)")
            #expect(!(reply.error["message"] as? String ?? "").isEmpty, "\(c.name): no error message in \(reply.text)")
            if let param = c.param { #expect(reply.error["param"] as? String == param, "\(c.name): \(reply.text)") }
        }
        let unknownRoute = try await server.request("GET", "/v1/nothing")
        #expect(unknownRoute.status == 404, "\(unknownRoute.text)")
        #expect(server.terminate() == 0)

        let small = try start(["--api-key", "sekret"])
        let refused = try await small.request("GET", "/v1/models")
        #expect(refused.status == 401 && refused.error["code"] as? String == "invalid_api_key", "\(refused.text)")
        #expect(try await small.request("GET", "/v1/models", headers: ["Authorization": "Bearer sekret"]).status == 200)
        #expect(try await small.request("GET", "/health").status == 200)
        #expect(small.terminate() == 0)
    }

    /// A second server on a port in use exits with a message that says so and what to do.
    @Test func portInUseIsAClearError() async throws {
        let server = try start()
        let port = String(server.base.split(separator: ":").last!)
        let second = try VaneProcess.vane(["serve", try #require(Fixtures.smollm2).path, "--port", port])
        #expect(second.status != 0 && second.output.contains("is already in use") && second.output.contains("--port 0"),
                "\(second.output)")
        #expect(server.terminate() == 0)
    }

    /// A prompt over the context is refused with 400 when the body is small enough to read.
    @Test func promptOverTheContext() async throws {
        let server = try start()
        let model = try await modelID(server)
        let reply = try await server.request("POST", "/v1/completions",
                                             json: ["model": model, "prompt": [Int](repeating: 42, count: 9000)])
        #expect(reply.status == 400 && reply.error["param"] as? String == "prompt", "\(reply.text)")
        #expect(server.terminate() == 0)
    }

    /// A request that outlives --request-timeout ends with 504 and OpenAI's error object; the batch empties.
    @Test func requestTimeoutGets504() async throws {
        let server = try start(["--request-timeout", "1"])
        let model = try await modelID(server)
        let reply = try await server.request("POST", "/v1/completions",
                                             json: ["model": model, "prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": 2000, "temperature": 0])
        #expect(reply.status == 504 && reply.error["code"] as? String == "timeout", "\(reply.status) \(reply.text)")
        #expect(try await server.metric("vane_batch_sequences") == 0)
        #expect(server.terminate() == 0)
    }

    /// One place in the batch and one in the queue: of six requests at once, some are refused with 429 and
    /// Retry-After, the rest answered.
    @Test func fullQueueGets429() async throws {
        let server = try start(["--max-batch", "1", "--max-queue", "1"])
        let model = try await modelID(server)
        let replies = try await withThrowingTaskGroup(of: ServerProcess.Reply.self) { group in
            for i in 0..<6 {
                group.addTask {
                    try await server.request("POST", "/v1/completions",
                                             json: ["model": model, "prompt": "Count: \(i)", "max_tokens": 48, "temperature": 0])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let refused = replies.filter { $0.status == 429 }
        #expect(!refused.isEmpty, "\(replies.map(\.status))")
        #expect(refused.allSatisfy { $0.headers["retry-after"] != nil && $0.error["code"] as? String == "queue_full" })
        #expect(replies.allSatisfy { $0.status == 200 || $0.status == 429 }, "\(replies.map(\.status))")
        #expect(server.terminate() == 0)
    }

    /// /v1/activations against `vane trace` of the same text (≤ 1e-6), and its position reductions against the
    /// trace's rows reduced here.
    @Test func activationsEqualTrace() async throws {
        let server = try start()
        let text = "The quick brown fox jumps over the lazy dog."
        let hooks = ["blocks.3.hook_resid_post", "blocks.5.attn.hook_result", "ln_final.hook_normalized"]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vane-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let traced = folder.appendingPathComponent("trace.safetensors")
        let run = try VaneProcess.vane(["trace", try #require(Fixtures.smollm2).path, "--prompt", text, "--hooks"] + hooks
                                       + ["-o", traced.path])
        try #require(run.status == 0, "\(run.output)")
        let reference = try loadReference(traced)

        for positions in ["all", "last", "mean", "index:2", "index:-3"] {
            let reply = try await server.request("POST", "/v1/activations",
                                                 json: ["input": text, "hooks": hooks, "positions": positions])
            try #require(reply.status == 200, "\(reply.text)")
            let items = try #require(reply.json["activations"] as? [[String: Any]])
            #expect(items.map { $0["hook"] as? String } == hooks)
            for item in items {
                let hook = try #require(item["hook"] as? String)
                let want = try #require(reference[hook])
                let rows = want.shape[0], width = want.data.count / rows
                let expected: [Float] = switch positions {
                case "all": want.data
                case "last": Array(want.data[((rows - 1) * width)...])
                case "index:2": Array(want.data[(2 * width)..<(3 * width)])
                case "index:-3": Array(want.data[((rows - 3) * width)..<((rows - 2) * width)])
                default: (0..<width).map { c in Float((0..<rows).reduce(0.0) { $0 + Double(want.data[$1 * width + c]) } / Double(rows)) }
                }
                let data = try #require(Data(base64Encoded: item["data"] as? String ?? ""))
                let got = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                #expect(item["dtype"] as? String == "float32")
                #expect(item["shape"] as? [Int] == (positions == "all" ? want.shape : [1] + want.shape.dropFirst()))
                if let message = compare(got, expected, atol: 1e-6, label: "\(hook) \(positions)") {
                    Issue.record(Comment(rawValue: message))
                }
            }
        }
        let bad = try await server.request("POST", "/v1/activations", json: ["input": text, "hooks": ["blocks.99.hook_resid_post"]])
        #expect(bad.status == 400 && bad.error["param"] as? String == "hooks", "\(bad.text)")
        #expect(server.terminate() == 0)
    }

    /// A client that closes its connection, streamed (after 3 chunks) or not (after 1 s): its sequence leaves the
    /// batch (the batch empties, the cancel is counted).
    @Test(.enabled(if: OpenAIClient.available, "the openai package is missing: scripts/test.sh installs it"),
          arguments: [3, 0])
    func disconnectStopsTheGeneration(chunks: Int) async throws {
        let server = try start()
        let model = try await modelID(server)
        let out = try OpenAIClient.json([server.base, "hangup", model, "1, 2, 3, 4, 5, 6, 7, 8,", String(chunks)]) as? [String: Any]
        #expect(out?["chunks"] as? Int == chunks)
        let deadline = Date().addingTimeInterval(30)
        var cancelled = 0.0, running = 1.0
        while Date() < deadline {
            cancelled = try await server.metric("vane_cancelled_total") ?? 0
            running = try await server.metric("vane_batch_sequences") ?? 1
            if cancelled >= 1 && running == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(cancelled >= 1 && running == 0, "cancelled \(cancelled), running \(running)")
        let generated = try await server.metric("vane_generated_tokens_total") ?? 0
        #expect(generated == 0, "a cancelled generation counts no finished tokens (\(generated))")
        #expect(server.terminate() == 0)
    }

    /// SIGTERM while a stream runs: the stream still ends with its finish reason and [DONE], new requests are
    /// refused, and the server exits with status 0.
    @Test(.enabled(if: OpenAIClient.available, "the openai package is missing: scripts/test.sh installs it"))
    func sigtermDrainsRunningRequests() async throws {
        let server = try start()
        let model = try await modelID(server)
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        client.arguments = ["python3", OpenAIClient.script.path, server.base, "stream", model, "Write a long story about a dragon.", "96"]
        let pipe = Pipe()
        client.standardOutput = pipe
        client.standardError = pipe
        try client.run()
        defer { if client.isRunning { kill(client.processIdentifier, SIGKILL) } }
        // Wait for the first chunk, then ask the server to stop.
        var lines = ""
        let deadline = Date().addingTimeInterval(60)
        while !lines.contains("\n"), Date() < deadline {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { break }
            lines += String(decoding: data, as: UTF8.self)
        }
        kill(server.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(300))
        let late = try? await server.request("POST", "/v1/completions", json: ["model": model, "prompt": "hi", "max_tokens": 2])
        #expect(late == nil || late?.status == 503, "a request after SIGTERM: \(late?.status ?? 0)")
        lines += String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        client.waitUntilExit()
        #expect(client.terminationStatus == 0, "\(lines)")
        #expect(lines.contains("\"finish\": \"length\"") || lines.contains("\"finish\": \"stop\""), "\(lines)")
        #expect(lines.contains("\"done\": true"), "\(lines)")
        #expect(server.waitForExit(60) == 0, "\(server.log)")
    }
}
