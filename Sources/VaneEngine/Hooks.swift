import VaneTensor

/// Hooks registered on hook points. A hook receives the live activation buffer of one forward call (the rows of
/// the tokens processed in that call) and may read it or modify it in place, during the call only (see
/// Activation). Points nobody hooked cost one dictionary lookup per layer; `attn.hook_result`, which needs extra
/// work, is only computed when hooked.
///
/// The forward pass runs on the caller's thread, so hooks are plain closures (not Sendable).
public final class Hooks {
    /// One activation as a hook sees it. `values` points into the forward pass's working buffers, which the pass
    /// goes on to overwrite and then frees: use it inside the hook, copy out what must outlive the call (as Capture
    /// does), and never keep the Activation, `values` or a `row` beyond it.
    public struct Activation {
        public let point: HookPoint
        /// [T, d], [T, H, hd], [T, H, d] or [T, F], rows first; attn.hook_pattern is [H, T, S] (`row` does not
        /// apply to it).
        public let shape: [Int]
        /// Absolute positions of the T rows in the sequence.
        public let positions: Range<Int>
        /// The rows, valid only until the hook returns.
        public let values: UnsafeMutableBufferPointer<Float>

        public var rowWidth: Int { shape.dropFirst().reduce(1, *) }

        /// Row t (of T) as a mutable slice of `values`.
        public func row(_ t: Int) -> UnsafeMutableBufferPointer<Float> {
            UnsafeMutableBufferPointer(rebasing: values[(t * rowWidth)..<((t + 1) * rowWidth)])
        }
    }

    public typealias Function = (Activation) -> Void

    private var functions: [HookPoint: [Function]] = [:]

    /// The sequence's token ids as forward calls have run them (position p holds tokens[p]): a call at position
    /// p0 keeps the first p0 and appends its own, so a hook can read the token of any row it sees and all before.
    public private(set) var tokens: [Int] = []

    public init() {}

    func record(_ new: [Int], at p0: Int) {
        if tokens.count > p0 { tokens.removeSubrange(p0...) }
        // A cache the hooks did not see from the start (positions before p0 unknown): keep positions aligned.
        if tokens.count < p0 { tokens += [Int](repeating: -1, count: p0 - tokens.count) }
        tokens += new
    }

    public var isEmpty: Bool { functions.isEmpty }

    public func add(_ point: HookPoint, _ function: @escaping Function) {
        functions[point, default: []].append(function)
    }

    public func removeAll() { functions.removeAll() }

    public func has(_ point: HookPoint) -> Bool { functions[point] != nil }

    func run(_ point: HookPoint, _ values: UnsafeMutableBufferPointer<Float>, shape: [Int], positions: Range<Int>) {
        guard let fs = functions[point] else { return }
        let activation = Activation(point: point, shape: shape, positions: positions, values: values)
        for f in fs { f(activation) }
    }
}

/// Copies of hook-point activations, appended across forward calls (prompt, then each decoded token). Rows-first
/// activations grow along T; attn.hook_pattern [H, T, S] grows along T and S, earlier rows padded with zeros over
/// the later positions (the weights the causal mask gives them), so it is the whole sequence's pattern.
public final class Capture {
    public private(set) var tensors: [HookPoint: Tensor] = [:]

    public init() {}

    /// Registers a reading hook on each point.
    public func attach(to hooks: Hooks, points: [HookPoint]) {
        for p in points {
            hooks.add(p) { a in
                if !p.isPerToken, let t = self.tensors[p] {
                    self.tensors[p] = Self.appendPattern(t, a)
                } else if var t = self.tensors[p] {
                    t.data.append(contentsOf: a.values)
                    t.shape[0] += a.shape[0]
                    self.tensors[p] = t
                } else {
                    self.tensors[p] = Tensor(shape: a.shape, data: Array(a.values))
                }
            }
        }
    }

    /// [H, T0, S0] followed by the call's [H, T1, S1] (S1 ≥ S0): [H, T0 + T1, S1].
    private static func appendPattern(_ t: Tensor, _ a: Hooks.Activation) -> Tensor {
        let (H, T0, S0) = (t.shape[0], t.shape[1], t.shape[2])
        let (T1, S1) = (a.shape[1], a.shape[2])
        let S = max(S0, S1)
        var out = Tensor(zeros: [H, T0 + T1, S])
        for h in 0..<H {
            for r in 0..<T0 {
                for j in 0..<S0 { out.data[(h * (T0 + T1) + r) * S + j] = t.data[(h * T0 + r) * S0 + j] }
            }
            for r in 0..<T1 {
                for j in 0..<S1 { out.data[(h * (T0 + T1) + T0 + r) * S + j] = a.values[(h * T1 + r) * S1 + j] }
            }
        }
        return out
    }
}
