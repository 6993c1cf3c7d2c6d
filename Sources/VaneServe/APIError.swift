import Foundation
import Hummingbird

/// An error as OpenAI's API reports it: an HTTP status and `{"error": {"message", "type", "param", "code"}}`.
struct APIError: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String
    var type: String
    var param: String?
    var code: String?
    /// Seconds for a Retry-After header (429, 503).
    var retryAfter: Int?

    /// A request the server cannot take as written (400).
    static func invalid(_ message: String, param: String? = nil, hint: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message + (hint.map { "; \($0)" } ?? ""), type: "invalid_request_error",
                 param: param, code: nil)
    }

    static func notFound(_ message: String, code: String? = nil, param: String? = nil) -> APIError {
        APIError(status: .notFound, message: message, type: "invalid_request_error", param: param, code: code)
    }

    static let unauthorized = APIError(status: .unauthorized, message: "missing or wrong API key: send "
        + "\"Authorization: Bearer KEY\" with the key the server was started with (--api-key)",
        type: "invalid_request_error", code: "invalid_api_key")

    static func queueFull(waiting: Int, retryAfter: Int) -> APIError {
        APIError(status: .tooManyRequests, message: "the server is busy: \(waiting) requests are already waiting "
            + "(--max-queue); retry after \(retryAfter) s", type: "rate_limit_error", code: "queue_full",
            retryAfter: retryAfter)
    }

    static let shuttingDown = APIError(status: .serviceUnavailable, message: "the server is shutting down",
                                       type: "server_error", code: "shutting_down", retryAfter: 1)

    static func timeout(seconds: Double) -> APIError {
        APIError(status: .gatewayTimeout, message: "the request took longer than the server's limit of "
            + "\(Int(seconds)) s (--request-timeout)", type: "server_error", code: "timeout")
    }

    static func server(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error")
    }

    /// The JSON body.
    var body: Data {
        struct Wrapper: Encodable {
            struct Inner: Encodable {
                let message: String
                let type: String
                let param: String?
                let code: String?
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(message, forKey: .message)
                    try c.encode(type, forKey: .type)
                    try c.encode(param, forKey: .param)
                    try c.encode(code, forKey: .code)
                }
                enum CodingKeys: String, CodingKey { case message, type, param, code }
            }
            let error: Inner
        }
        return (try? JSONEncoder().encode(Wrapper(error: .init(message: message, type: type, param: param, code: code)))) ?? Data()
    }
}
