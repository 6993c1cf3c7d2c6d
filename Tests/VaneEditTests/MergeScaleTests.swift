import Foundation
import Testing
@testable import VaneEdit
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// Merges at the size of a real model's tensors (884,736 entries, as SmolLM2's MLP matrices), on inputs whose task
/// vectors hold tens of thousands of entries of each magnitude, against mergekit 0.1.5 (Tests/Fixtures/merge-scale,
/// written by make.py there, which generates the same inputs from the same integer formula).
///
/// Checked: every 97th merged value, and for TIES, breadcrumbs and SCE the exact set of entries each task vector
/// keeps (SHA-256 of the kept positions), which is where ties at the threshold decide. Tolerance: |Δ| ≤ 1e-6
/// absolute against mergekit's float32 output; for the methods built on whole-tensor norms and dot products
/// (slerp, nuslerp, multislerp, model_stock, karcher) |Δ| ≤ 1e-6 against mergekit run in float64 and ≤ 2e-5
/// against its float32 output, whose reductions round differently from an exact sum (up to 1.2e-5 from its own
/// float64 result on these inputs; Vane accumulates in F64).
@Suite struct MergeScaleTests {
    static let folder = Fixtures.url("merge-scale")
    static let reducing: Set<MergeConfig.Method> = [.slerp, .nuslerp, .multislerp, .model_stock, .karcher]

    /// make.py's `hashed` and `value`: base (h mod 4001 − 2000)·2⁻¹², model m base + (h_m mod 61 − 30)·2⁻¹⁰.
    static func value(tensor: Int, model: Int, count n: Int) -> [Float] {
        func hashed(_ i: Int, _ salt: Int) -> Int {
            Int(((UInt64(i) &* 2_654_435_761 &+ UInt64(salt)) & 0xFFFF_FFFF) >> 8)
        }
        return (0..<n).map { i in
            var x = Double(hashed(i, 1000 * tensor + 1) % 4001 - 2000) * 0x1p-12
            if model > 0 { x += Double(hashed(i, 1000 * tensor + 1 + 7 * model) % 61 - 30) * 0x1p-10 }
            return Float(x)
        }
    }

    struct Case {
        var name: String
        var method: MergeConfig.Method
        var base: String?
        var models: [String]
        var parameters: [String: Any]
        var kept: [String: [String: String]]
    }

    static func load() throws -> (meta: [String: Any], cases: [Case], samples: [String: Tensor]) {
        let data = try Data(contentsOf: folder.appendingPathComponent("expected.json"))
        let meta = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let raw = try #require(meta["cases"] as? [String: [String: Any]])
        let cases = try raw.keys.sorted().map { name in
            let c = raw[name]!
            return Case(name: name, method: try #require(MergeConfig.Method(rawValue: c["method"] as! String)),
                        base: c["base"] as? String, models: c["models"] as! [String],
                        parameters: c["parameters"] as! [String: Any], kept: c["kept"] as! [String: [String: String]])
        }
        return (meta, cases, try loadReference(folder.appendingPathComponent("expected.safetensors")))
    }

    static func digest(_ positions: [Int]) -> String {
        var bytes = Data(capacity: positions.count * 4)
        for p in positions.sorted() { withUnsafeBytes(of: Int32(p).littleEndian) { bytes.append(contentsOf: $0) } }
        return SHA256.hex(of: bytes)
    }

    @Test func matchesMergekitAtScale() throws {
        let (meta, cases, samples) = try Self.load()
        let stride = try #require(meta["stride"] as? Int)
        let names = try #require(meta["models"] as? [String])
        let shapes = try #require(meta["tensors"] as? [String: [Int]])
        // make.py's tensor order (its dict order): the salt of each tensor's values.
        let order = ["up", "square", "norm"]
        #expect(Set(order) == Set(shapes.keys))
        #expect(cases.count == 13)
        for (t, tensor) in order.enumerated() {
            let shape = shapes[tensor]!, n = shape.reduce(1, *)
            let values = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Self.value(tensor: t, model: $0, count: n)) })
            for c in cases {
                let listed = (c.base.map { [$0] } ?? []) + c.models
                let inputs = Merge.TensorInputs(models: listed.map { Tensor(shape: shape, data: values[$0]!) },
                                                isBase: listed.map { $0 == c.base },
                                                base: c.base.map { Tensor(shape: shape, data: values[$0]!) })
                // The case's parameters as make.py handed them to mergekit; the rest take Vane's declared defaults,
                // so a default that differs from mergekit's shows up here.
                func value(_ key: String, _ index: Int?) throws -> Double {
                    let given = c.parameters[key]
                    if let perModel = given as? [String: Any], let index {
                        return try #require((perModel[listed[index]] as? NSNumber)?.doubleValue)
                    }
                    if let number = given as? NSNumber { return number.doubleValue }
                    return try #require(c.method.parameter(key)?.defaultValue, "\(c.name): \(key)")
                }
                let merged = try Merge.combine(c.method, inputs, value: value, name: tensor) { _ in SplitMix64(seed: 0) }
                let sampled = Swift.stride(from: 0, to: n, by: stride).map { merged.data[$0] }
                let exact = samples["\(c.name).\(tensor).float64"]
                for (key, atol) in [("\(c.name).\(tensor)", Float(exact == nil ? 1e-6 : 2e-5)), ("\(c.name).\(tensor).float64", 1e-6)] {
                    guard let expected = samples[key] else { continue }
                    let problem = compare(sampled, expected.data, atol: atol, label: "\(key) (every \(stride)th)")
                    #expect(problem == nil, "\(problem ?? "")")
                }
                #expect(samples["\(c.name).\(tensor)"] != nil && (exact != nil) == Self.reducing.contains(c.method))

                for (model, hash) in c.kept[tensor] ?? [:] {
                    #expect(try keptDigest(c, model: model, values: values, shape: shape) == hash,
                            "\(c.name).\(tensor): the entries kept for \(model) differ from mergekit's")
                }
            }
        }
    }

    /// SHA-256 of the positions Vane's selection keeps, as make.py digests mergekit's.
    func keptDigest(_ c: Case, model: String, values: [String: [Float]], shape: [Int]) throws -> String {
        let base = values["base"]!, n = base.count
        func delta(_ m: String) -> [Float] { zip(values[m]!, base).map { $0 - $1 } }
        if model == "selected" {
            let mask = MergeMath.sceSelection(c.models.map(delta), share: (c.parameters["select_topk"] as! NSNumber).doubleValue)
            return Self.digest((0..<n).filter { mask[$0] })
        }
        func number(_ key: String) -> Double? { ((c.parameters[key] as? [String: Any])?[model] as? NSNumber)?.doubleValue }
        var d = delta(model)
        var rng = SplitMix64(seed: 0)
        try MergeMath.sparsify(&d, density: try #require(number("density")), method: c.method == .ties ? .magnitude : .outliers,
                               gamma: number("gamma") ?? 0, rescale: false, rng: &rng, name: c.name)
        return Self.digest((0..<n).filter { d[$0] != 0 })
    }

    /// The order torch leaves equal values in matters: the first k of torch.argsort over the same magnitudes are
    /// not the first k in index order. This keeps the test from passing with a selection that ignores the order.
    @Test func indexOrderIsNotTorchOrder() throws {
        let (_, cases, _) = try Self.load()
        let ties = try #require(cases.first { $0.name == "ties" })
        let n = 1536 * 576
        let values = ["base": Self.value(tensor: 0, model: 0, count: n), "a": Self.value(tensor: 0, model: 1, count: n)]
        var d = zip(values["a"]!, values["base"]!).map { $0 - $1 }
        let k = Int(0.5 * Double(n))
        let byIndex = Array((0..<n).sorted { (abs(d[$0]), -$0) > (abs(d[$1]), -$1) }.prefix(k))
        #expect(Self.digest(byIndex) != ties.kept["up"]!["a"]!)
        var rng = SplitMix64(seed: 0)
        try MergeMath.sparsify(&d, density: 0.5, method: .magnitude, rescale: false, rng: &rng, name: "up")
        #expect(d.filter { $0 != 0 }.count == k)
    }
}
