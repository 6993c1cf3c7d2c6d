import Foundation
import Testing
import VaneModelIO
import VaneTestSupport
@testable import VaneTokenizer

/// Rendered text must equal what jinja2 3.1.6 (set up as transformers sets it up) wrote into
/// Tests/Fixtures/templates/chat_templates.json — exactly, character for character.
@Suite struct ChatTemplateTests {
    struct Fixture {
        let now: Date
        let templates: JinjaObject
        let renders: [JinjaObject]
        let cases: [JinjaObject]
    }

    static func loadFixture() throws -> Fixture {
        let data = try Data(contentsOf: Fixtures.url("templates/chat_templates.json"))
        guard case .object(let root) = try JinjaValue(jsonData: data),
              case .string(let nowText)? = root["now"], let now = ISO8601DateFormatter().date(from: nowText),
              case .object(let templates)? = root["templates"],
              case .array(let renders)? = root["renders"], case .array(let cases)? = root["cases"]
        else { throw FixtureError(message: "chat_templates.json does not have the expected layout") }
        func objects(_ values: [JinjaValue]) throws -> [JinjaObject] {
            try values.map {
                guard case .object(let o) = $0 else { throw FixtureError(message: "entry is not an object") }
                return o
            }
        }
        return Fixture(now: now, templates: templates, renders: try objects(renders), cases: try objects(cases))
    }

    struct FixtureError: Error { let message: String }

    static let utc = TimeZone(identifier: "UTC")!

    /// nil when equal; else where the first differing character is, with both texts around it.
    static func difference(_ actual: String, _ expected: String) -> String? {
        if actual == expected { return nil }
        let a = Array(actual.unicodeScalars), e = Array(expected.unicodeScalars)
        var i = 0
        while i < a.count, i < e.count, a[i] == e[i] { i += 1 }
        func around(_ s: [Unicode.Scalar]) -> String {
            let lo = max(0, i - 40), hi = min(s.count, i + 40)
            var view = String.UnicodeScalarView()
            view.append(contentsOf: s[lo..<hi])
            return String(String(view).debugDescription.dropFirst().dropLast())
        }
        return "first difference at character \(i) (actual length \(a.count), expected \(e.count))\n"
            + "  actual:   …\(around(a))…\n  expected: …\(around(e))…"
    }

    /// Compares a render (or the error it threw) with a fixture entry that has "expected" or "error".
    static func check(_ entry: JinjaObject, _ render: () throws -> String) {
        let name = entry["name"]?.pythonString ?? "?"
        do {
            let actual = try render()
            if case .string(let message)? = entry["error"] {
                Issue.record("\(name): expected raise_exception(\"\(message)\"), rendered \(actual.debugDescription)")
            } else if case .string(let expected)? = entry["expected"] {
                if let diff = difference(actual, expected) { Issue.record("\(name): \(diff)") }
            } else {
                Issue.record("\(name): fixture entry has neither expected nor error")
            }
        } catch let error as JinjaError {
            if case .string(let message)? = entry["error"] {
                #expect(error.kind == .raised && error.message == message, "\(name): \(error)")
            } else {
                Issue.record("\(name): \(error)")
            }
        } catch {
            Issue.record("\(name): \(error)")
        }
    }

    @Test func tinyLlamaFolderTemplateMatchesReference() throws {
        let template = try #require(try ChatTemplate.load(modelFolder: Fixtures.url("tiny-llama")))
        let data = try Data(contentsOf: Fixtures.url("tiny-llama/reference.json"))
        guard case .object(let root) = try JinjaValue(jsonData: data),
              case .object(let example)? = root["chat_template_example"],
              case .array(let messages)? = example["messages"], case .string(let expected)? = example["rendered"]
        else { throw FixtureError(message: "reference.json has no chat_template_example {messages, rendered}") }
        let actual = try template.render(messages: messages, addGenerationPrompt: true, bosToken: "", eosToken: "")
        #expect(Self.difference(actual, expected) == nil, "\(Self.difference(actual, expected) ?? "")")
    }

    @Test func realTemplatesMatchJinja2() throws {
        let fixture = try Self.loadFixture()
        #expect(fixture.renders.count == 17)
        var parsed: [String: ChatTemplate] = [:]
        for (name, source) in fixture.templates.pairs {
            parsed[name] = try ChatTemplate(source: source.pythonString, origin: name)
        }
        for entry in fixture.renders {
            guard case .string(let name)? = entry["template"], let template = parsed[name],
                  case .object(var context)? = entry["context"], case .array(let messages)? = context["messages"]
            else { throw FixtureError(message: "render entry without template or messages") }
            let generate = context["add_generation_prompt"]?.isTruthy ?? false
            let bos = context["bos_token"]?.pythonString ?? "", eos = context["eos_token"]?.pythonString ?? ""
            for key in ["messages", "add_generation_prompt", "bos_token", "eos_token"] { context[key] = nil }
            Self.check(entry) {
                try template.render(messages: messages, addGenerationPrompt: generate, bosToken: bos, eosToken: eos,
                                    extra: Dictionary(uniqueKeysWithValues: context.pairs), now: fixture.now,
                                    timeZone: Self.utc)
            }
        }
    }

    @Test func interpreterFeaturesMatchJinja2() throws {
        let fixture = try Self.loadFixture()
        #expect(fixture.cases.count == 45)
        for entry in fixture.cases {
            guard case .string(let source)? = entry["source"], case .object(let context)? = entry["context"]
            else { throw FixtureError(message: "case without source or context") }
            Self.check(entry) {
                try JinjaTemplate(source, origin: entry["name"]?.pythonString ?? "case")
                    .render(Dictionary(uniqueKeysWithValues: context.pairs), now: fixture.now, timeZone: Self.utc)
            }
        }
    }

    @Test func chatMessageConvenienceRendersLikeDicts() throws {
        let template = try ChatTemplate(source: "{% for m in messages %}{{ m.role }}={{ m['content'] }};{% endfor %}")
        let text = try template.render(messages: [ChatMessage(role: "user", content: "hi")], addGenerationPrompt: false,
                                       bosToken: "", eosToken: "")
        #expect(text == "user=hi;")
    }

    // MARK: Errors

    func error(_ source: String, _ variables: [String: JinjaValue] = [:]) -> JinjaError? {
        do {
            _ = try JinjaTemplate(source, origin: "t.jinja").render(variables)
            return nil
        } catch let e as JinjaError {
            return e
        } catch {
            return nil
        }
    }

    @Test func unclosedBlockReportsWhereItOpened() throws {
        let e = try #require(error("line one\n  {% if x %}\n  body\n"))
        #expect(e.kind == .syntax)
        #expect((e.line, e.column) == (2, 3), "\(e)")
        #expect(e.message.contains("'endif'") && e.message.contains("'if'"), "\(e)")
        #expect(e.description.hasPrefix("t.jinja:2:3:"), "\(e)")

        let loop = try #require(error("{% for m in messages %}\n{{ m }}"))
        #expect(loop.kind == .syntax && loop.message.contains("'endfor'") && loop.line == 1, "\(loop)")

        let tag = try #require(error("ok\n{{ x "))
        #expect(tag.kind == .syntax && (tag.line, tag.column) == (2, 1) && tag.message.contains("'}}'"), "\(tag)")

        let expected = try #require(error("{% if x %}a{% else %}b{% endfor %}"))
        #expect(expected.kind == .syntax && expected.message.contains("'endif'"), "\(expected)")
    }

    @Test func syntaxErrorsSayWhatWasExpected() throws {
        let e = try #require(error("{{ 1 + }}"))
        #expect(e.kind == .syntax && e.message.contains("expected an expression"), "\(e)")
        let set = try #require(error("{% set x 5 %}"))
        #expect(set.kind == .syntax && set.message.contains("expected '='"), "\(set)")
        let tag = try #require(error("a\n{% frobnicate %}"))
        #expect(tag.kind == .syntax && tag.message.contains("unknown tag 'frobnicate'") && tag.line == 2, "\(tag)")
        let brk = try #require(error("{% break %}"))
        #expect(brk.kind == .syntax && brk.message.contains("outside of a for loop"), "\(brk)")
    }

    @Test func raiseExceptionSurfacesItsMessage() throws {
        let e = try #require(error("ok\n{% if messages|length == 0 %}{{ raise_exception('No messages given!') }}{% endif %}",
                                   ["messages": []]))
        #expect(e.kind == .raised && e.message == "No messages given!", "\(e)")
        #expect(e.line == 2, "\(e)")
    }

    @Test func unknownFilterAndTestAreNamed() throws {
        let f = try #require(error("{{ x }}\n{{ x | frobnicate }}"))
        #expect(f.kind == .syntax && f.message.contains("no filter named 'frobnicate'") && (f.line, f.column) == (2, 8), "\(f)")
        let t = try #require(error("{{ x is shiny }}"))
        #expect(t.kind == .syntax && t.message.contains("no test named 'shiny'"), "\(t)")
        let m = try #require(error("{{ [1]|map('frobnicate')|list }}"))
        #expect(m.kind == .runtime && m.message.contains("frobnicate"), "\(m)")
    }

    /// Templates that loop, repeat or nest without end fail with an error at their position instead of hanging,
    /// aborting on an allocation or overflowing the stack; each case finishes in well under a second.
    @Test func runawayTemplatesHitLimits() throws {
        let start = Date()
        let cases: [(String, JinjaError.Kind, String, Int)] = [
            ("{% for i in range(100000000000) %}x{% endfor %}", .runtime, "range() of 100000000000 items", 18),
            ("{{ 'x' * 100000000000 }}", .runtime, "string repetition", 8),
            ("{{ [1] * 100000000000 }}", .runtime, "list repetition", 8),
            ("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", .runtime, "more than 100000 iterations", 27),
            ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
             .runtime, "a string would be", 75),
            ("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s }}{% endfor %}", .runtime, "16 MiB", 56),
            ("{% set s = 'x' * 1000000 %}{{ [s] * 100 }}", .runtime, "16 MiB", 35),
            ("{{ (['x' * 1000000] * 100) | join(',') }}", .runtime, "16 MiB", 30),
            ("{{ ('x' * 1000000) | replace('x', 'yyyyyyyyyyyyyyyyyyyyy') }}", .runtime, "replace()", 22),
            ("{{ 'a' | indent(100000000000) }}", .runtime, "indent width", 10),
            ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", .runtime, "nested deeper than", 21),
            ("{{ " + String(repeating: "(", count: 20_000) + "1" + String(repeating: ")", count: 20_000) + " }}",
             .syntax, "expression nested deeper than 256", 260),
            ("{{ 1" + String(repeating: " + 1", count: 20_000) + " }}", .syntax, "nested deeper than 256", 1026),
            ("{{ " + String(repeating: "not ", count: 20_000) + "1 }}", .syntax, "'not' nested deeper than 256", 1024),
            (String(repeating: "{% if 1 %}", count: 20_000) + String(repeating: "{% endif %}", count: 20_000),
             .syntax, "'if' block nested deeper than 256", 2567),
        ]
        for (source, kind, message, column) in cases {
            let e = try #require(error(source), "\(source.prefix(60)) rendered")
            #expect(e.kind == kind && e.message.contains(message) && e.origin == "t.jinja", "\(source.prefix(60)): \(e)")
            #expect(e.line == 1 && e.column == column, "\(source.prefix(60)): \(e.line):\(e.column)")
        }
        #expect(Date().timeIntervalSince(start) < 5, "limits took \(Date().timeIntervalSince(start)) s")
    }

    @Test func runtimeErrorsNameTheOperation() throws {
        let add = try #require(error("{{ 'a' + 1 }}"))
        #expect(add.kind == .runtime && add.message.contains("+") && add.message.contains("'str' and 'int'"), "\(add)")
        let undefinedAdd = try #require(error("{{ missing + 1 }}"))
        #expect(undefinedAdd.message.contains("'missing' is undefined"), "\(undefinedAdd)")
        let attr = try #require(error("{{ messages[0].content + 1 }}", ["messages": [["role": "user"]]]))
        #expect(attr.message.contains("'messages[0].content' is undefined"), "\(attr)")
        let zero = try #require(error("{{ 1 // 0 }}"))
        #expect(zero.kind == .runtime && zero.message.contains("division"), "\(zero)")
        let iterate = try #require(error("{% for x in 5 %}{% endfor %}"))
        #expect(iterate.message.contains("'int' object is not iterable"), "\(iterate)")
        let method = try #require(error("{{ 'abc'.frob() }}"))
        #expect(method.message.contains("'str' object has no method 'frob'"), "\(method)")
        let ns = try #require(error("{% set d = {} %}{% set d.x = 1 %}"))
        #expect(ns.message.contains("namespace"), "\(ns)")
        let json = try #require(error("{{ missing|tojson }}"))
        #expect(json.message.contains("not JSON serializable"), "\(json)")
    }

    // MARK: Locating the template of a model folder

    func folder(_ files: [String: String]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vane-chat-template-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(to: url.appendingPathComponent(name), atomically: false, encoding: .utf8) }
        return url
    }

    func renderLoaded(_ url: URL) throws -> String? {
        try ChatTemplate.load(modelFolder: url)?.render(messages: [ChatMessage](), addGenerationPrompt: false, bosToken: "", eosToken: "")
    }

    @Test func locatesTemplateInModelFolders() throws {
        let jinjaFirst = try folder(["chat_template.jinja": "from jinja file", "tokenizer_config.json": #"{"chat_template": "from config"}"#])
        #expect(try renderLoaded(jinjaFirst) == "from jinja file")
        let config = try folder(["tokenizer_config.json": #"{"bos_token": "<s>", "chat_template": "from {{ 'config' }}"}"#])
        #expect(try renderLoaded(config) == "from config")
        let named = try folder(["tokenizer_config.json":
            #"{"chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "default one"}]}"#])
        #expect(try renderLoaded(named) == "default one")
        let none = try folder(["tokenizer_config.json": #"{"bos_token": "<s>"}"#])
        #expect(try ChatTemplate.load(modelFolder: none) == nil)
        let noDefault = try folder(["tokenizer_config.json": #"{"chat_template": [{"name": "rag", "template": "x"}]}"#])
        #expect(throws: VaneError.self) { try ChatTemplate.load(modelFolder: noDefault) }
        let broken = try folder(["tokenizer_config.json": "{\"chat_template\": \"x\",\n oops}"])
        do {
            _ = try ChatTemplate.load(modelFolder: broken)
            Issue.record("malformed tokenizer_config.json was accepted")
        } catch let e as VaneError {
            #expect(e.description.contains("tokenizer_config.json") && e.description.contains("line 2"), "\(e)")
        }
        let badTemplate = try folder(["chat_template.jinja": "{% if %}"])
        do {
            _ = try ChatTemplate.load(modelFolder: badTemplate)
            Issue.record("malformed chat_template.jinja was accepted")
        } catch let e as JinjaError {
            #expect(e.origin.hasSuffix("chat_template.jinja") && e.kind == .syntax, "\(e)")
        }
        for url in [jinjaFirst, config, named, none, noDefault, broken, badTemplate] { try? FileManager.default.removeItem(at: url) }
    }

    @Test func jsonKeepsKeyOrderAndRoundTrips() throws {
        let text = #"{"z": 1, "a": [true, null, 2.5, "é\n\"q\""], "m": {}}"#
        let value = try JinjaValue(json: text)
        guard case .object(let o) = value else { throw FixtureError(message: "not an object") }
        #expect(o.keys == ["z", "a", "m"])
        let dumped = try JinjaTemplate("{{ v|tojson }}").render(["v": value])
        #expect(dumped == #"{"z": 1, "a": [true, null, 2.5, "é\n\"q\""], "m": {}}"#)
        #expect(throws: VaneError.self) { try JinjaValue(json: "[1, 2") }
    }
}
