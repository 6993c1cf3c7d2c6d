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
