import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import VaneEngine
import VaneModelIO

/// How `vane serve` was started.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// The id clients name in `model` and GET /v1/models lists.
    public var modelName: String
    public var vectors: URL?
    public var maxBatch = 16
    public var maxQueue = 64
    public var maxTokensLimit = 2048
    public var apiKey: String?
    public var requestTimeout = 600.0
    public var maxBodyBytes = 4 << 20
    /// Seconds SIGTERM waits for running requests before ending them.
    public var drainSeconds = 30.0

    public init(modelName: String) { self.modelName = modelName }
}

/// What every handler needs: the model, its engine, the vectors, the limits.
final class ServerContext: Sendable {
    let options: ServerOptions
    nonisolated(unsafe) let model: LanguageModel
    let engine: Engine
    let vectors: VectorLibrary
    let metrics: ServerMetrics

    var maxTokensLimit: Int { options.maxTokensLimit }

    init(model: LanguageModel, options: ServerOptions) {
        self.options = options
        self.model = model
        metrics = ServerMetrics(maxBatch: options.maxBatch)
        engine = Engine(model: model, maxBatch: options.maxBatch, maxQueue: options.maxQueue,
                        timeout: options.requestTimeout, metrics: metrics)
        vectors = VectorLibrary(directory: options.vectors, model: model)
    }

    /// The request's `model`, which must name the served one (OpenAI's clients always send it).
    func checkModel(_ fields: Fields) throws(APIError) -> String {
        let name = options.modelName
        if let asked = try fields.string("model"), asked != name {
            throw APIError.notFound("the model \"\(asked)\" does not exist; this server serves \"\(name)\"",
                                    code: "model_not_found", param: "model")
        }
        return name
    }
}

/// `vane serve`: the OpenAI-compatible endpoints, activations, health and metrics over HTTP/1.1.
///
///     POST /v1/chat/completions   POST /v1/completions   (stream: server-sent events)
///     POST /v1/activations        GET /v1/models         GET /health   GET /metrics
///
/// With an API key, /v1/ routes need `Authorization: Bearer KEY`; /health and /metrics stay open for probes and
/// scrapers. SIGTERM or SIGINT stops new requests (503), lets running ones finish for `drainSeconds`, ends the rest,
/// then exits.
public struct Server {
    let context: ServerContext

    public init(model: LanguageModel, options: ServerOptions) {
        context = ServerContext(model: model, options: options)
    }

    /// Serves until SIGTERM or SIGINT; `onListening` hears the bound address (the port, when 0 was asked for).
    public func run(onListening: @escaping @Sendable (String, Int) -> Void) async throws {
        let context = self.context
        let router = Router()
        router.add(middleware: ErrorMiddleware(metrics: context.metrics))
        if let key = context.options.apiKey { router.add(middleware: BearerMiddleware(key: key)) }
        Routes(context).register(on: router)

        var logger = Logger(label: "vane.serve")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(context.options.host, port: context.options.port), serverName: "vane"),
            onServerRunning: { channel in
                onListening(context.options.host, channel.localAddress?.port ?? context.options.port)
            },
            logger: logger)
        context.engine.start()
        // Shut down in reverse order: the drainer first (new requests refused, running ones given time), then the
        // HTTP server, which closes its connections once their responses are written.
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: Drainer(context: context))],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let e as IOError where e.errnoCode == EADDRINUSE {
            throw VaneError("\(context.options.host):\(context.options.port) is already in use by another program",
                            hint: "choose another --port, or --port 0 for a free one")
        }
    }
}

/// Waits for a shutdown signal, then drains the engine on a thread of its own (drain blocks).
private struct Drainer: Service {
    let context: ServerContext

    func run() async throws {
        try? await gracefulShutdown()
        let engine = context.engine
        let seconds = context.options.drainSeconds
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread { engine.drain(seconds: seconds); done.resume() }.start()
        }
    }
}

/// Every error as OpenAI's error object; requests counted by endpoint and status.
private struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let endpoint = request.uri.path
        do {
            let response = try await next(request, context)
            metrics.request(endpoint, status: response.status.code)
            return response
        } catch {
            let api: APIError = switch error {
            case let e as APIError: e
            case let e as HTTPResponseError where e.status == .contentTooLarge:
                APIError(status: .contentTooLarge, message: "the body is larger than this server accepts "
                    + "(--max-body-bytes)", type: "invalid_request_error")
            case let e as HTTPResponseError where e.status == .notFound:
                APIError.notFound("no route \(request.method) \(endpoint)", code: "unknown_url")
            case let e as HTTPResponseError:
                APIError(status: e.status, message: "\(e)", type: "invalid_request_error")
            default:
                APIError.server("\(error)")
            }
            metrics.request(endpoint, status: api.status.code)
            return api.response
        }
    }
}

/// `Authorization: Bearer KEY` on /v1/ routes, compared in constant time.
private struct BearerMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/") else { return try await next(request, context) }
        let given = Array((request.headers[.authorization] ?? "").utf8)
        let wanted = Array("Bearer \(key)".utf8)
        var difference = given.count ^ wanted.count
        for i in 0..<wanted.count { difference |= Int(wanted[i] ^ (i < given.count ? given[i] : 0)) }
        guard difference == 0 else { throw APIError.unauthorized }
        return try await next(request, context)
    }
}

extension APIError {
    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

func jsonResponse(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data()
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
