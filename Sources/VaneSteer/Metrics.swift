import Foundation

/// Distances between next-token distributions given as logits, and the numeric answer check.
public enum Metrics {
    /// log-softmax of one row of logits, in Double.
    public static func logSoftmax(_ logits: ArraySlice<Float>) -> [Double] {
        let m = Double(logits.max() ?? 0)
        let lse = m + log(logits.reduce(0.0) { $0 + exp(Double($1) - m) })
        return logits.map { Double($0) - lse }
    }

    /// KL(P ‖ Q) = Σ p (log p − log q) in nats, from log-probabilities.
    public static func kl(_ logP: [Double], _ logQ: [Double]) -> Double {
        var s = 0.0
        for (lp, lq) in zip(logP, logQ) where lp > -700 { s += exp(lp) * (lp - lq) }
        return max(s, 0)
    }

    /// Entropy −Σ p log₂ p in bits, from log-probabilities (natural log).
    public static func entropyBits(_ logP: [Double]) -> Double {
        var s = 0.0
        for lp in logP where lp > -700 { s -= exp(lp) * lp }
        return s / log(2)
    }
}

/// Checks a generated answer against a numeric expected answer: the last number in the text (commas between
/// digit groups and a leading "$" allowed) must equal it within 1e-6 relative.
public enum AnswerChecker {
    public static func numbers(in text: String) -> [Double] {
        var out: [Double] = []
        var current = ""
        func flush() {
            let cleaned = current.replacingOccurrences(of: ",", with: "")
            let trimmed = cleaned.hasSuffix(".") ? String(cleaned.dropLast()) : cleaned
            if let v = Double(trimmed), trimmed.contains(where: \.isNumber) { out.append(v) }
            current = ""
        }
        let chars = Array(text)
        for (i, c) in chars.enumerated() {
            if c.isASCII && c.isNumber {
                current.append(c)
            } else if c == "-" && current.isEmpty && i + 1 < chars.count && chars[i + 1].isASCII && chars[i + 1].isNumber
                        && (i == 0 || !(chars[i - 1].isLetter || chars[i - 1].isNumber)) {
                current.append(c)
            } else if (c == "," || c == ".") && !current.isEmpty && i + 1 < chars.count && chars[i + 1].isASCII && chars[i + 1].isNumber {
                current.append(c)
            } else if !current.isEmpty {
                flush()
            }
        }
        if !current.isEmpty { flush() }
        return out
    }

    public static func isCorrect(_ text: String, answer: Double) -> Bool {
        guard let last = numbers(in: text).last else { return false }
        return abs(last - answer) <= 1e-6 * max(1, abs(answer))
    }
}

extension Stats {
    /// The Wilson score interval of a binomial proportion k/n at confidence z (1.96: 95%):
    /// (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n), clipped to [0, 1].
    public static func wilson(successes k: Int, trials n: Int, z: Double = 1.959963984540054) -> (low: Double, high: Double) {
        guard n > 0 else { return (0, 1) }
        let p = Double(k) / Double(n), nn = Double(n), z2 = z * z
        let center = (p + z2 / (2 * nn)) / (1 + z2 / nn)
        let half = z * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot() / (1 + z2 / nn)
        return (max(0, center - half), min(1, center + half))
    }
}
