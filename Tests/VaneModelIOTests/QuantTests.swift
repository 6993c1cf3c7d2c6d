import Foundation
import Testing
import VaneModelIO
import VaneTensor
import VaneTestSupport

@Suite struct QuantTests {
    static let zooTypes = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]

    /// Every type in the zoo dequantizes to gguf-py's values (≤ 1e-6 relative, as Tests/Fixtures/README.md states).
    @Test(arguments: zooTypes) func quantZoo(typeName: String) throws {
        let zoo = try GGUFFile(url: Fixtures.url("quant-zoo.gguf"))
        let reference = try SafetensorsFile(url: Fixtures.url("quant-zoo.reference.safetensors"))
        let stored = try #require(zoo.tensor(named: "zoo.\(typeName)"))
        let expected = try #require(reference.tensor(named: "zoo.\(typeName)"))
        #expect(stored.type.description == typeName)
        #expect(stored.shape == [4, 512])
        #expect(expected.shape == [4, 512] && expected.type == .f32)
        let actual = dequantize(stored)
        #expect(actual.shape == [4, 512])
        if let mismatch = compare(actual.data, dequantize(expected).data, atol: 1e-30, rtol: 1e-6, label: "zoo.\(typeName)") {
            Issue.record(Comment(rawValue: mismatch))
        }
    }

    /// Q8_1 and Q8_K never appear in model files, so no reference writes them: check them on hand-built blocks.
    @Test func activationTypes() {
        var q8_1 = [UInt8](repeating: 0, count: 36)
        putLE(UInt16(0x3800), into: &q8_1, at: 0)   // d = 0.5
        putLE(UInt16(0x7C00), into: &q8_1, at: 2)   // s, unused for values
        for j in 0..<32 { q8_1[4 + j] = UInt8(bitPattern: Int8(j - 16)) }
        var out = [Float](repeating: .nan, count: 32)
        dequantize(.q8_1, q8_1, &out, count: 32)
        #expect(out == (0..<32).map { Float($0 - 16) * 0.5 })

        var q8_K = [UInt8](repeating: 0, count: 292)
        putLE(Float(0.25).bitPattern, into: &q8_K, at: 0)
        for j in 0..<256 { q8_K[4 + j] = UInt8(bitPattern: Int8(truncatingIfNeeded: j * 7 - 128)) }
        out = [Float](repeating: .nan, count: 256)
        dequantize(.q8_K, q8_K, &out, count: 256)
        #expect(out == (0..<256).map { Float(Int8(truncatingIfNeeded: $0 * 7 - 128)) * 0.25 })
    }

    /// F16 → F32 for every bit pattern, against Swift's own Float16 (where the platform has it).
    @Test func halfToFloatAllPatterns() {
        #if !(os(macOS) && arch(x86_64))
        var bad: [String] = []
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = halfToFloat(bits)
            let same = expected.isNaN ? actual.isNaN : actual.bitPattern == expected.bitPattern
            if !same && bad.count < 5 { bad.append("0x\(String(bits, radix: 16)): \(actual) vs \(expected)") }
        }
        #expect(bad.isEmpty, "\(bad)")
        #endif
    }

    /// F32 → F16 rounding: exact midpoints between neighbouring halves (ties to even), their neighbours, and a
    /// sweep over all F32 exponents, against Swift's Float16 conversion (round to nearest even, as ggml and numpy).
    @Test func floatToHalfRounding() {
        #if !(os(macOS) && arch(x86_64))
        var samples: [Float] = [0, -0, .infinity, -.infinity, 65504, 65519.99, 65520, 1e-8, 2.9802322e-08, 2.9802326e-08]
        for h in UInt16(0)..<0x7BFF {
            let lo = Float(Float16(bitPattern: h)), hi = Float(Float16(bitPattern: h + 1))
            let mid = (lo + hi) / 2
            samples += [mid, mid.nextUp, mid.nextDown, -mid]
        }
        for bits in stride(from: UInt32(0), to: 0x7F80_0000, by: 4099) { samples.append(Float(bitPattern: bits)) }
        var bad: [String] = []
        for f in samples where floatToHalf(f) != Float16(f).bitPattern && bad.count < 5 {
            bad.append("\(f): 0x\(String(floatToHalf(f), radix: 16)) vs 0x\(String(Float16(f).bitPattern, radix: 16))")
        }
        #expect(bad.isEmpty, "\(bad)")
        #expect(halfToFloat(floatToHalf(.nan)).isNaN)
        #endif
    }

    @Test func bf16() {
        #expect(floatToBF16(1) == 0x3F80)
        #expect(floatToBF16(Float(bitPattern: 0x3F80_8000)) == 0x3F80)   // tie, even stays
        #expect(floatToBF16(Float(bitPattern: 0x3F81_8000)) == 0x3F82)   // tie, odd rounds up
        #expect(floatToBF16(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(floatToBF16(-2.5) == 0xC020)
        #expect(bf16ToFloat(floatToBF16(.nan)).isNaN)
        #expect(bf16ToFloat(0xC020) == -2.5)
    }

    /// The quantizers write the bytes gguf-py's quantizers (ggml's reference rounding) write.
    @Test(arguments: [GGMLType.q8_0, .q4_0, .q4_1]) func quantizersMatchGGUFPy(type: GGMLType) throws {
        let file = try GGUFFile(url: Fixtures.url("ggufpy-ref/ggufpy-ref.gguf"))
        let input = dequantize(try #require(file.tensor(named: "input")))
        let expected = try #require(file.tensor(named: "ref.\(type)"))
        #expect(expected.type == type && expected.shape == input.shape)
        let actual = quantize(type, input.data)
        let blockBytes = type.blockBytes
        var bad: [String] = []
        for b in 0..<(actual.count / blockBytes) {
            let range = (b * blockBytes)..<((b + 1) * blockBytes)
            if !actual[range].elementsEqual(expected.bytes[range]) && bad.count < 3 {
                bad.append("block \(b): \(hex(actual[range])) vs \(hex(expected.bytes[range]))")
            }
        }
        #expect(bad.isEmpty, "\(type) blocks differing from gguf-py: \(bad)")
    }

    /// Quantize → dequantize stays within each scheme's error bound, per block: Q8_0 half a step (d = amax/127),
    /// Q4_0 one step (d = amax/8; the value opposite the extreme clamps from 8 to 7), Q4_1 half a step
    /// (d = range/15) plus the F16 rounding of the minimum; plus the F16 rounding of d times the largest quant.
    /// Scales span 1e-4 … 1e4, so small blocks store d as an F16 subnormal.
    @Test(arguments: [GGMLType.q8_0, .q4_0, .q4_1]) func quantizeRoundTrip(type: GGMLType) {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var x: [Float] = []
        for block in 0..<256 {
            let scale = Float(pow(10.0, Double(block % 9 - 4)))
            for _ in 0..<32 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                x.append((Float(state >> 40) / Float(1 << 24) - 0.3) * scale)
            }
        }
        let back = [Float](unsafeUninitializedCapacity: x.count) { out, n in
            dequantize(type, quantize(type, x), out.baseAddress!, count: x.count)
            n = x.count
        }
        var bad: [String] = []
        for b in 0..<(x.count / 32) {
            let block = x[(32 * b)..<(32 * b + 32)]
            let amax = block.map(abs).max()!, lo = block.min()!, hi = block.max()!
            // F16 rounding error of a stored d or m: half an ulp, at least half the subnormal spacing 2⁻²⁴.
            func f16Error(_ v: Float) -> Float { max(abs(v) * 0x1p-11, 0x1p-25) }
            let bound: Float = switch type {
            case .q8_0: amax / 127 / 2 + 127 * f16Error(amax / 127)
            case .q4_0: amax / 8 + 8 * f16Error(amax / 8)
            default: (hi - lo) / 15 / 2 + 15 * f16Error((hi - lo) / 15) + f16Error(lo)
            }
            for j in block.indices where abs(back[j] - x[j]) > bound * 1.0001 && bad.count < 5 {
                bad.append("[\(j)] \(x[j]) → \(back[j]), bound \(bound)")
            }
        }
        #expect(bad.isEmpty, "\(type) round trip: \(bad)")
    }

    /// A 49152 × 576 Q8_0 matrix (SmolLM2's embedding) dequantizes in well under a second in a release build.
    @Test func q8_0DequantizeSpeed() {
        let count = 49152 * 576, blocks = count / 32
        var bytes = [UInt8](repeating: 0, count: blocks * 34)
        for b in 0..<blocks {
            putLE(UInt16(0x2C00 + b % 1024), into: &bytes, at: 34 * b)
            for j in 0..<32 { bytes[34 * b + 2 + j] = UInt8(truncatingIfNeeded: b &* 7 &+ j &* 13) }
        }
        var out = [Float](repeating: .nan, count: count)
        let start = ContinuousClock.now
        dequantize(.q8_0, bytes, &out, count: count)
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        print("Q8_0 dequantize 49152×576: \(seconds) s")
        for b in stride(from: 0, to: blocks, by: 9973) {
            let d = halfToFloat(UInt16(0x2C00 + b % 1024))
            for j in [0, 17, 31] {
                #expect(out[32 * b + j] == Float(Int8(truncatingIfNeeded: b &* 7 &+ j &* 13)) * d)
            }
        }
        #if !DEBUG
        #expect(seconds < 0.5)
        #endif
    }
}

func quantize(_ type: GGMLType, _ x: [Float]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: type.byteCount(x.count))
    switch type {
    case .q8_0: quantizeQ8_0(x, &out, count: x.count)
    case .q4_0: quantizeQ4_0(x, &out, count: x.count)
    case .q4_1: quantizeQ4_1(x, &out, count: x.count)
    default: Issue.record("no quantizer for \(type)")
    }
    return out
}

func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    bytes.map { String(format: "%02x", $0) }.joined()
}
