import Foundation
import VaneModelIO

/// The scales steer-eval sweeps, `LO:HI:STEP`. Each scale is LO + k·STEP rounded to the decimals the user wrote
/// (the most of LO, HI and STEP), so 0.1 stays 0.1 in tables and JSON instead of 0.10000000149011612.
public struct Sweep: Sendable, Equatable, CustomStringConvertible {
    public var lo: Double
    public var hi: Double
    public var step: Double
    public var decimals: Int

    public static let maxScales = 1000

    public init(lo: Double, hi: Double, step: Double, decimals: Int) throws {
        guard lo.isFinite, hi.isFinite, step.isFinite, step > 0, lo <= hi else {
            throw VaneError("sweep \(lo):\(hi):\(step): needs LO ≤ HI and STEP > 0", hint: "e.g. -0.3:0.3:0.1")
        }
        guard ((hi - lo) / step).rounded(.down) < Double(Self.maxScales) else {
            throw VaneError("sweep \(lo):\(hi):\(step) has more than \(Self.maxScales) scales", hint: "take a larger STEP")
        }
        (self.lo, self.hi, self.step, self.decimals) = (lo, hi, step, min(decimals, 12))
    }

    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let lo = Double(parts[0]), let hi = Double(parts[1]), let step = Double(parts[2]) else {
            throw VaneError("--sweep \(text): write LO:HI:STEP with numbers, LO ≤ HI and STEP > 0", hint: "e.g. -0.3:0.3:0.1")
        }
        try self.init(lo: lo, hi: hi, step: step, decimals: parts.map(Self.decimals).max() ?? 0)
    }

    /// Digits after the point of a number as written ("0.25" → 2, "1e-3" → 3, "8" → 0).
    static func decimals(_ text: String) -> Int {
        let lower = text.lowercased()
        let (mantissa, exponent) = lower.contains("e")
            ? (String(lower.prefix { $0 != "e" }), Int(lower.drop { $0 != "e" }.dropFirst()) ?? 0) : (lower, 0)
        let after = mantissa.firstIndex(of: ".").map { mantissa.distance(from: $0, to: mantissa.endIndex) - 1 } ?? 0
        return max(0, after - exponent)
    }

    public var scales: [Double] {
        let count = Int(((hi - lo) / step + 1e-9).rounded(.down)) + 1
        return (0..<count).map { Self.round(lo + Double($0) * step, decimals) }
    }

    /// `x` rounded to `decimals` places: the double nearest the decimal, so it prints as the decimal (−0 as 0).
    public static func round(_ x: Double, _ decimals: Int) -> Double {
        let p = pow(10.0, Double(decimals))
        let r = (x * p).rounded() / p
        return r == 0 ? 0 : r
    }

    public var description: String {
        [lo, hi, step].map { Self.format($0, decimals) }.joined(separator: ":")
    }

    /// `x` with `decimals` places.
    public static func format(_ x: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", round(x, decimals)) }

    /// ablate, clamp and rotate scales are fractions of the full operation: 0 to 1.
    public static let fraction = try! Sweep(lo: 0, hi: 1, step: 0.25, decimals: 2)

    /// The added vector's size, relative to the activation's norm, at the ends of the default sweep: where the
    /// shipped vectors (vectors/) change lengths strongly without breaking text (concise at ±0.3 reaches ~0.06,
    /// efficiency at ±0.2 ~0.024; both degrade from ~0.12).
    public static let addedShareAtEnds = 0.03

    /// The default sweep for `steering`: with an `add` term, ±HI in steps of HI/4, HI the 1-2-5 number nearest
    /// (in log scale) to the factor at which the largest added vector reaches `addedShareAtEnds` of the
    /// activation's norm (SteerMeasurement on the first prompt); for ablate and clamp only, 0:1:0.25.
    public static func fitting(_ measurement: SteerMeasurement) -> Sweep {
        guard let top = measurement.largestAdded(), top.share > 0 else { return fraction }
        return fittingAddedShare(top.share)
    }

    /// ±HI in steps of HI/4 for an added vector of `share` × the activation's norm at factor 1.
    public static func fittingAddedShare(_ share: Double) -> Sweep {
        let target = addedShareAtEnds / share
        let exponent = log10(target).rounded(.down)
        let candidates = [1.0, 2, 5, 10].map { $0 * pow(10, exponent) }
        let hi = candidates.min { abs(log($0 / target)) < abs(log($1 / target)) }!
        let decimals = (0...12).first { d in [hi, hi / 4].allSatisfy { abs(round($0, d) - $0) <= 1e-9 * $0 } } ?? 12
        return (try? Sweep(lo: -hi, hi: hi, step: hi / 4, decimals: decimals)) ?? fraction
    }
}
