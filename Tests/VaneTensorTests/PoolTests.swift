import CKernels
import Foundation
import Testing

/// The worker pool runs each part of a job exactly once, whatever the thread and part counts, including after a
/// call with more threads (whose extra workers must stay out) and while a second thread calls it at the same time.
@Suite struct PoolTests {
    /// Each part adds 1 to its own slot; a job is right when every slot holds 1.
    static func job(threads: Int, parts: Int) -> [Int32] {
        var slots = [Int32](repeating: 0, count: parts)
        slots.withUnsafeMutableBufferPointer { buffer in
            vane_parallel_for(Int32(threads), Int32(parts), { ctx, part, parts in
                let slots = ctx!.assumingMemoryBound(to: Int32.self)
                precondition(part >= 0 && part < parts)
                slots[Int(part)] += 1
            }, buffer.baseAddress)
        }
        return slots
    }

    @Test func everyPartRunsOnce() {
        for (threads, parts) in [(1, 5), (2, 1), (2, 2), (2, 8), (4, 3), (4, 64), (8, 1000), (2, 7)] {
            for round in 0..<2000 {
                let slots = Self.job(threads: threads, parts: parts)
                let wrong = slots.enumerated().filter { $0.element != 1 }
                guard wrong.isEmpty else {
                    Issue.record("threads \(threads), parts \(parts), round \(round): parts run ≠ once: \(wrong.prefix(5))")
                    return
                }
            }
        }
    }

    @Test func concurrentCallers() async {
        await withTaskGroup(of: Bool.self) { group in
            for caller in 0..<3 {
                group.addTask {
                    (0..<500).allSatisfy { round in
                        Self.job(threads: 2 + caller, parts: 3 + (round + caller) % 17).allSatisfy { $0 == 1 }
                    }
                }
            }
            for await ok in group { #expect(ok) }
        }
    }
}
