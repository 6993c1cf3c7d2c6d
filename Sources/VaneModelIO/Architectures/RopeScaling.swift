import Foundation

/// Llama 3's RoPE scaling (config.json `rope_type: "llama3"`, Llama 3.1/3.2, R1-Distill-Llama): each frequency
/// of plain RoPE is divided by a factor between 1 and `factor`, chosen by its wavelength λ = 2π / ω against the
/// original context L:
///
///     λ < L / high_freq_factor   → 1            (short wavelengths: unchanged)
///     λ > L / low_freq_factor    → factor       (long wavelengths: stretched)
///     otherwise                  → 1 / ((1 − s) / factor + s),   s = (L/λ − low_freq_factor) / (high − low)
///
/// These per-frequency divisors are what llama.cpp's converter stores as `rope_freqs.weight` [head_dim / 2], so a
/// GGUF file and a config.json lead to the same inverse-frequency table.
public struct Llama3RopeScaling: Sendable, Equatable, Codable {
    public var factor: Double
    public var lowFreqFactor: Double
    public var highFreqFactor: Double
    public var originalMaxPositionEmbeddings: Int

    public init(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositionEmbeddings: Int) {
        self.factor = factor
        self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor
        self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
    }

    /// The four parameters back from llama.cpp's rope_freqs `divisors`, as config.json states them. Scaling L, low
    /// and high together leaves every divisor unchanged, so only their ratios are in the file: L is
    /// `originalContext` when the file states it, else any value (the context over the factor). The smoothly scaled
    /// frequencies (1 < divisor < factor) give low and high, one from each when there are two or more; with one, low
    /// sits between it and the stretched frequencies (geometric mean). Nil when no parameters reproduce every
    /// divisor to 1e-5 (relative), or nothing is scaled.
    public init?(divisors: [Float], headDim: Int, theta: Float, originalContext: Int) {
        let base = ModelConfig.ropeInverseFrequencies(headDim: headDim, theta: theta)
        guard divisors.count == base.count, let factor = divisors.max().map(Double.init), factor > 1 + 1e-6 else { return nil }
        let L = Double(originalContext)
        // x = L / λ for each frequency; s = (x − low) / (high − low) where the divisor is between 1 and factor.
        let x = base.map { L * $0 / (2 * Double.pi) }
        var smooth: [(x: Double, s: Double)] = [], stretched: [Double] = [], kept: [Double] = []
        for (d, xi) in zip(divisors.map(Double.init), x) {
            if abs(d - 1) <= 1e-6 { kept.append(xi) } else if abs(d - factor) <= 1e-6 * factor { stretched.append(xi) }
            else { smooth.append((xi, (1 / d - 1 / factor) / (1 - 1 / factor))) }
        }
        let low: Double, high: Double
        if smooth.count >= 2 {
            let (a, b) = (smooth.first!, smooth.last!)
            let slope = (b.s - a.s) / (b.x - a.x)
            guard slope.isFinite, slope > 0 else { return nil }
            low = a.x - a.s / slope
            high = low + 1 / slope
        } else if let p = smooth.first, p.s > 0 {
            low = stretched.max().map { ($0 * p.x).squareRoot() } ?? p.x / 2
            high = low + (p.x - low) / p.s
        } else {
            return nil
        }
        guard low > 0, high > low else { return nil }
        self.init(factor: factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositionEmbeddings: originalContext)
        let again = self.divisors(headDim: headDim, theta: theta)
        guard zip(again, divisors).allSatisfy({ abs($0 - $1) <= 1e-5 * $1 }) else { return nil }
    }

    /// The divisor of each of the `headDim / 2` frequencies of RoPE base `theta` (llama.cpp's rope_freqs).
    public func divisors(headDim: Int, theta: Float) -> [Float] {
        let base = ModelConfig.ropeInverseFrequencies(headDim: headDim, theta: theta)
        let L = Double(originalMaxPositionEmbeddings)
        return base.map { w in
            let wavelength = 2 * Double.pi / w
            if wavelength < L / highFreqFactor { return 1 }
            if wavelength > L / lowFreqFactor { return Float(factor) }
            let s = (L / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
            return Float(1 / ((1 - s) / factor + s))
        }
    }
}

extension ModelConfig {
    /// Plain RoPE's inverse frequencies ω_i = θ^(−2i / head_dim), i < head_dim / 2.
    public static func ropeInverseFrequencies(headDim: Int, theta: Float) -> [Double] {
        (0..<(headDim / 2)).map { 1 / pow(Double(theta), Double(2 * $0) / Double(headDim)) }
    }

    /// The inverse frequencies RoPE rotates by: plain ones, each divided by its divisor when the model scales RoPE
    /// (`divisors` from a GGUF file's `rope_freqs.weight`, else from `ropeScaling`).
    public func ropeInverseFrequencies(divisors: [Float]? = nil) -> [Double] {
        let base = Self.ropeInverseFrequencies(headDim: headDim, theta: ropeTheta)
        guard let divisors = divisors ?? ropeScaling?.divisors(headDim: headDim, theta: ropeTheta) else { return base }
        return zip(base, divisors).map { $0 / Double($1) }
    }
}

/// Phi-3's LongRoPE scaling (config.json `rope_type: "longrope"`, older `"su"`; Phi-3-mini-128k, Phi-3.5, Phi-4-mini):
/// each of the rotary dims' frequencies is divided by its own factor, from `long_factor` when the positions a
/// forward call reaches go past `original_max_position_embeddings`, else from `short_factor`:
///
///     ω_i = θ^(−2i / rotary_dims) / ext_i,    ext = long_factor if max(position) + 1 > L else short_factor
///
/// and the rotated dims of q and k are multiplied by `attentionFactor` (cos and sin scaled, as transformers'
/// `attention_scaling`): √(1 + ln s / ln L) with s = max_position_embeddings / L (or config's `factor`), unless the
/// config states `attention_factor`. The choice follows transformers (decided per forward call, so a cached
/// generation that crosses L keeps the short-factor keys it already stored); llama.cpp decides once, by the context
/// size it was given. llama.cpp's converter writes the factors as the tensors `rope_factors_long.weight` and
/// `rope_factors_short.weight` [rotary_dims / 2] and the factor as `{arch}.rope.scaling.attn_factor`.
public struct Phi3LongRope: Sendable, Equatable, Codable {
    public var shortFactor: [Float]
    public var longFactor: [Float]
    public var originalMaxPositionEmbeddings: Int
    public var attentionFactor: Float

    public static let longTensor = "rope_factors_long.weight"
    public static let shortTensor = "rope_factors_short.weight"

    public init(shortFactor: [Float], longFactor: [Float], originalMaxPositionEmbeddings: Int, attentionFactor: Float) {
        self.shortFactor = shortFactor
        self.longFactor = longFactor
        self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
        self.attentionFactor = attentionFactor
    }

    /// transformers' default attention factor for a context extended `factor` times past `original` positions.
    public static func defaultAttentionFactor(factor: Double, original: Int) -> Float {
        factor <= 1 ? 1 : Float((1 + log(factor) / log(Double(original))).squareRoot())
    }

    /// Checks the factors against the rotary dims and each value before it divides (file path for errors).
    public func validate(rotaryDims: Int, path: String) throws {
        for (name, f) in [("short_factor", shortFactor), ("long_factor", longFactor)] {
            guard f.count == rotaryDims / 2 else {
                throw VaneError("\(path): LongRoPE \(name) has \(f.count) values; the \(rotaryDims) rotary dims need \(rotaryDims / 2)")
            }
            if let bad = f.first(where: { !($0.isFinite && $0 > 0) }) {
                throw VaneError("\(path): LongRoPE \(name) holds \(bad); RoPE frequency divisors must be positive")
            }
        }
        guard (1...(1 << 24)).contains(originalMaxPositionEmbeddings), attentionFactor.isFinite, attentionFactor > 0 else {
            throw VaneError("\(path): LongRoPE has original_max_position_embeddings \(originalMaxPositionEmbeddings) and attention factor \(attentionFactor)",
                            hint: "expected a context of 1…16777216 and a positive factor")
        }
    }

    /// The inverse frequencies of `rotaryDims` dims at RoPE base `theta`, for calls that reach past the original
    /// context (`long`) or not.
    public func inverseFrequencies(rotaryDims: Int, theta: Float, long: Bool) -> [Double] {
        zip(ModelConfig.ropeInverseFrequencies(headDim: rotaryDims, theta: theta), long ? longFactor : shortFactor)
            .map { $0 / Double($1) }
    }
}
