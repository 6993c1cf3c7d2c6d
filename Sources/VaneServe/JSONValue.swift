import Foundation

/// A JSON value as a request body holds it. Decoding keeps booleans, numbers and strings apart (JSONDecoder refuses
/// `true` as a number and `1` as a boolean), so a field of the wrong type is reported rather than converted.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode(Double.self) { self = .number(v) }
        else if let v = try? c.decode(String.self) { self = .string(v) }
        else if let v = try? c.decode([JSONValue].self) { self = .array(v) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// The body as one JSON object; anything else is a 400 saying where the JSON breaks.
    static func object(from body: Data) throws(APIError) -> Fields {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: body)
        } catch let DecodingError.dataCorrupted(context) {
            let cause = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            throw APIError.invalid("the body is not valid JSON" + (cause.map { ": \($0)" } ?? ""))
        } catch {
            throw APIError.invalid("the body is not valid JSON: \(error)")
        }
        guard case .object(let fields) = value else {
            throw APIError.invalid("the body must be a JSON object, not \(value.kind)")
        }
        return Fields(fields, path: "")
    }
}

/// The fields of one JSON object, read by the type OpenAI's API gives them: a field of another type is a 400 that
/// names it (`param`: "temperature", "steering[1].scale"). Absent and null fields read as nil.
struct Fields {
    let values: [String: JSONValue]
    /// The object's place in the body, "" for the body itself.
    let path: String

    init(_ values: [String: JSONValue], path: String) {
        self.values = values
        self.path = path
    }

    func param(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Refuses fields this endpoint does not know, as OpenAI's API does ("Unrecognized request argument").
    func refuseUnknown(_ known: Set<String>) throws(APIError) {
        if let key = values.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError.invalid("unrecognized request argument supplied: \(param(key))", param: param(key),
                                   hint: "known: \(known.sorted().joined(separator: ", "))")
        }
    }

    private func wrongType(_ key: String, _ value: JSONValue, _ expected: String) -> APIError {
        .invalid("\(param(key)) must be \(expected), not \(value.kind)", param: param(key))
    }

    func string(_ key: String) throws(APIError) -> String? {
        switch values[key] {
        case nil, .null: return nil
        case .string(let s): return s
        case let v?: throw wrongType(key, v, "a string")
        }
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        switch values[key] {
        case nil, .null: return nil
        case .bool(let b): return b
        case let v?: throw wrongType(key, v, "a boolean")
        }
    }

    /// A finite number within `range`.
    func number(_ key: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
        switch values[key] {
        case nil, .null: return nil
        case .number(let x):
            guard x.isFinite, range.contains(x) else {
                throw APIError.invalid("\(param(key)) is \(x); it must lie in \(range.lowerBound)…\(range.upperBound)",
                                       param: param(key))
            }
            return x
        case let v?: throw wrongType(key, v, "a number")
        }
    }

    /// A whole number within `range`.
    func integer(_ key: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let x = try number(key, in: Double(range.lowerBound)...Double(range.upperBound)) else { return nil }
        guard x == x.rounded() else { throw APIError.invalid("\(param(key)) must be a whole number, not \(x)", param: param(key)) }
        return Int(x)
    }

    func array(_ key: String) throws(APIError) -> [JSONValue]? {
        switch values[key] {
        case nil, .null: return nil
        case .array(let a): return a
        case let v?: throw wrongType(key, v, "an array")
        }
    }

    func object(_ key: String) throws(APIError) -> Fields? {
        switch values[key] {
        case nil, .null: return nil
        case .object(let o): return Fields(o, path: param(key))
        case let v?: throw wrongType(key, v, "an object")
        }
    }

    /// A string or an array of strings (OpenAI's `stop`, `hooks`).
    func strings(_ key: String) throws(APIError) -> [String]? {
        switch values[key] {
        case nil, .null: return nil
        case .string(let s): return [s]
        case .array(let a):
            return try a.enumerated().map { (i, v) throws(APIError) -> String in
                guard case .string(let s) = v else {
                    throw APIError.invalid("\(param(key))[\(i)] must be a string, not \(v.kind)", param: "\(param(key))[\(i)]")
                }
                return s
            }
        case let v?: throw wrongType(key, v, "a string or an array of strings")
        }
    }

    /// Each element of an array of objects, with its place (`steering[2]`).
    func objects(_ key: String) throws(APIError) -> [Fields]? {
        guard let a = try array(key) else { return nil }
        return try a.enumerated().map { (i, v) throws(APIError) -> Fields in
            guard case .object(let o) = v else {
                throw APIError.invalid("\(param(key))[\(i)] must be an object, not \(v.kind)", param: "\(param(key))[\(i)]")
            }
            return Fields(o, path: "\(param(key))[\(i)]")
        }
    }
}
