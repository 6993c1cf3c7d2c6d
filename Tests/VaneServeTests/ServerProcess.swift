import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import VaneTestSupport

/// A `vane serve` process on a free loopback port (--port 0; the port is read from its stderr line). Ended with
/// SIGKILL if still running when the object goes away; every wait here has a deadline.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    private(set) var base = ""
    private let lock = NSLock()
    private var stderrText = ""

    struct StartFailed: Error, CustomStringConvertible { let description: String }

    init(model: URL, _ arguments: [String] = []) throws {
        guard let binary = VaneProcess.binary else { throw VaneProcess.VaneNotBuilt() }
        process.executableURL = binary
        process.arguments = ["serve", model.path, "--port", "0", "--threads", "2"] + arguments
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { handle.readabilityHandler = nil; return }
            self.lock.lock()
            self.stderrText += String(decoding: data, as: UTF8.self)
            self.lock.unlock()
        }
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let range = log.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) {
                base = String(log[range])
                return
            }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        throw StartFailed(description: "vane serve did not start listening within 60 s: \(log)")
    }

    /// What the server wrote to stderr so far.
    var log: String {
        lock.lock()
        defer { lock.unlock() }
        return stderrText
    }

    /// Sends SIGTERM and waits up to `seconds` for the exit; its status, or nil if it had to be killed.
    @discardableResult
    func terminate(within seconds: Double = 60) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        return waitForExit(seconds)
    }

    func waitForExit(_ seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
        /// OpenAI's error object's fields.
        var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
    }

    /// One HTTP request with a 120 s timeout.
    func request(_ method: String, _ path: String, json: Any? = nil, raw: Data? = nil,
                 headers: [String: String] = [:]) async throws -> Reply {
        var r = URLRequest(url: URL(string: base + path)!, timeoutInterval: 120)
        r.httpMethod = method
        if let json { r.httpBody = try JSONSerialization.data(withJSONObject: json) }
        if let raw { r.httpBody = raw }
        if r.httpBody != nil { r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await URLSession.shared.data(for: r)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (k, v) in http.allHeaderFields { fields[String(describing: k).lowercased()] = String(describing: v) }
        return Reply(status: http.statusCode, headers: fields, body: data)
    }

    /// The value of an unlabelled metric line `NAME VALUE` in /metrics.
    func metric(_ name: String) async throws -> Double? {
        let text = try await request("GET", "/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }
}

/// Runs Tests/VaneServeTests/client.py with the real `openai` package.
enum OpenAIClient {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("client.py")

    static let available: Bool = (try? VaneProcess.run("/usr/bin/env", ["python3", "-c", "import openai"]).status) == 0

    static func run(_ arguments: [String]) throws -> String {
        let result = try VaneProcess.run("/usr/bin/env", ["python3", script.path] + arguments)
        guard result.status == 0 else { throw ServerProcess.StartFailed(description: "client.py \(arguments.prefix(2)) failed: \(result.output)") }
        return result.output
    }

    static func json(_ arguments: [String]) throws -> Any {
        let out = try run(arguments)
        let line = out.split(separator: "\n").last.map(String.init) ?? ""
        return try JSONSerialization.jsonObject(with: Data(line.utf8))
    }
}
