import Foundation
import Hummingbird
import VaneEngine

/// The handlers. Generation requests go to the engine and wait on their event stream; a client that closes its
/// connection cancels its job (before the answer: through the inbound-close handler; while a stream is written:
/// through the failed write).
struct Routes: Sendable {
    let context: ServerContext

    init(_ context: ServerContext) { self.context = context }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/health") { _, _ in
            jsonResponse(["status": "ok", "model": context.options.modelName])
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: context.metrics.text)))
        }
        router.get("/v1/models") { _, _ in
            jsonResponse(["object": "list", "data": [["id": context.options.modelName, "object": "model",
                                                      "created": 0, "owned_by": "vane"]]])
        }
        router.post("/v1/chat/completions") { request, _ in try await complete(request, kind: .chat) }
        router.post("/v1/completions") { request, _ in try await complete(request, kind: .text) }
        router.post("/v1/activations") { request, _ in try await activations(request) }
    }

    /// A job number, set once submitted, and whether the client has gone: whichever comes second cancels. A
    /// stream hands over to its body writer (`release`) before the handler returns, because the inbound-close
    /// handler also fires when the handler's return ends its watch.
    final class Watch: @unchecked Sendable {
        private let lock = NSLock()
        private var number: Int?
        private var gone = false
        private var released = false
        let engine: Engine

        init(engine: Engine) { self.engine = engine }

        func submitted(_ n: Int) {
            lock.lock(); number = n; let cancel = gone; lock.unlock()
            if cancel { engine.cancel(n) }
        }

        func release() {
            lock.lock(); released = true; lock.unlock()
        }

        func clientGone() {
            lock.lock(); gone = true; let n = released ? nil : number; lock.unlock()
            if let n { engine.cancel(n) }
        }
    }

    private func complete(_ request: Request, kind: CompletionRequest.Kind) async throws -> Response {
        let arrived = ContinuousClock.now
        let limit = context.options.maxBodyBytes
        let watch = Watch(engine: context.engine)
        return try await request.body.consumeWithInboundCloseHandler { body in
            let bytes = try await body.collect(upTo: limit)
            let fields = try JSONValue.object(from: Data(buffer: bytes))
            let r = try CompletionRequest(kind: kind, body: fields, server: context)
            let hooks = Hooks()
            if let steering = r.steering {
                do {
                    _ = try steering.install(on: hooks, promptLength: r.promptTokens.count,
                                             modelLayers: context.model.config.numHiddenLayers,
                                             tokenizer: context.model.tokenizer)
                } catch {
                    throw APIError.invalid("steering: \(error)", param: "steering")
                }
            }
            let (number, events) = try context.engine.submit(.generate(.init(promptTokens: r.promptTokens,
                                                                            options: r.options, hooks: hooks)))
            watch.submitted(number)
            context.metrics.promptTokens.increment(by: Int64(r.promptTokens.count))
            let id = (kind == .chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let created = Int(Date().timeIntervalSince1970)
            if r.stream {
                watch.release()
                return stream(r, id: id, created: created, number: number, events: events, arrived: arrived)
            }
            var first = true
            for await event in events {
                switch event {
                case .text:
                    if first { context.metrics.firstToken.record(ContinuousClock.now - arrived); first = false }
                case .finished(let result):
                    watch.release()
                    context.metrics.generatedTokens.increment(by: Int64(result.tokens.count))
                    context.metrics.requestSeconds.record(ContinuousClock.now - arrived)
                    return jsonResponse(CompletionJSON.completion(r, id: id, created: created, result: result))
                case .failed(let error):
                    throw error
                case .traced:
                    break
                }
            }
            throw APIError.server("the generation was cancelled")
        } onInboundClosed: {
            watch.clientGone()
        }
    }

    /// Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`. An error after the stream has
    /// started is sent as an event holding OpenAI's error object, which the clients raise.
    private func stream(_ r: CompletionRequest, id: String, created: Int, number: Int,
                        events: AsyncStream<Engine.Event>, arrived: ContinuousClock.Instant) -> Response {
        let context = self.context
        let body = ResponseBody { writer in
            func send(_ object: Any) async throws {
                let data = try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])
                var buffer = ByteBuffer(string: "data: ")
                buffer.writeBytes(data)
                buffer.writeString("\n\n")
                try await writer.write(buffer)
            }
            do {
                if r.kind == .chat { try await send(CompletionJSON.chunk(r, id: id, created: created, text: "", role: true)) }
                var first = true
                loop: for await event in events {
                    switch event {
                    case .text(let piece):
                        if first { context.metrics.firstToken.record(ContinuousClock.now - arrived); first = false }
                        try await send(CompletionJSON.chunk(r, id: id, created: created, text: piece))
                    case .finished(let result):
                        context.metrics.generatedTokens.increment(by: Int64(result.tokens.count))
                        try await send(CompletionJSON.chunk(r, id: id, created: created, text: nil, finish: result.stopReason))
                        if r.includeUsage { try await send(CompletionJSON.usageChunk(r, id: id, created: created, result: result)) }
                        break loop
                    case .failed(let error):
                        try await writer.write(ByteBuffer(string: "data: "))
                        try await writer.write(ByteBuffer(bytes: error.body))
                        try await writer.write(ByteBuffer(string: "\n\n"))
                        break loop
                    case .traced:
                        break
                    }
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
                context.metrics.requestSeconds.record(ContinuousClock.now - arrived)
            } catch {
                context.engine.cancel(number)
                throw error
            }
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
