import CKernels
import Testing

@Suite struct DotTests {
    @Test func avx2MatchesNaive() {
        for n in [0, 1, 7, 16, 33, 576, 1536] {
            let a = (0..<n).map { Float(($0 * 37) % 101) / 50 - 1 }
            let b = (0..<n).map { Float(($0 * 53) % 97) / 48 - 1 }
            let fast = vane_dot_f32(a, b, n)
            let naive = vane_dot_f32_naive(a, b, n)
            // Summation order differs; tolerance scales with n.
            #expect(abs(fast - naive) <= 1e-5 * Float(max(n, 1)), "n=\(n): \(fast) vs \(naive)")
        }
    }
}
