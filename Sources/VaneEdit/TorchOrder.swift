/// Which of several equal values torch puts first. mergekit selects entries with `torch.argsort`/`torch.sort`
/// (TIES, breadcrumbs) and `torch.topk` (SCE); among equal magnitudes the survivors are whatever those unstable
/// routines leave at the front. torch's CPU kernels run libstdc++'s `std::sort` (introsort), `std::nth_element`
/// (introselect) and `std::partial_sort` (heap select) on (value, index) pairs compared by value alone, so the
/// choice is deterministic and reproduced here step by step — partition by partition, only down the branches
/// that hold a position the caller asks about, so a selection costs O(n) like a quickselect.
///
/// Checked against torch 2.15's CPU `argsort`, `sort` and `topk` (Tests/Fixtures/merge-scale).
struct TorchOrder {
    var values: [Float]
    var indices: [Int32]
    let descending: Bool

    init(_ values: consuming [Float], descending: Bool) {
        self.values = values
        self.indices = (0..<Int32(values.count)).map { $0 }
        self.descending = descending
    }

    /// The indices torch puts at `positions` of `torch.sort(values, descending:)` (as a set, in no order).
    static func sorted(_ values: consuming [Float], descending: Bool, positions: Range<Int>) -> ArraySlice<Int32> {
        let n = values.count
        var order = TorchOrder(values, descending: descending)
        let cuts = [positions.lowerBound, positions.upperBound]
        order.introsort(0, n, depth: 2 * log2Floor(n), cuts: cuts)
        return order.indices[positions]
    }

    /// The indices of `torch.topk(values, k, largest: true)` (as a set).
    static func topK(_ values: consuming [Float], _ k: Int) -> ArraySlice<Int32> {
        let n = values.count
        var order = TorchOrder(values, descending: true)
        guard k > 0 else { return [] }
        if k * 64 <= n {
            order.heapSelect(0, k, n)
        } else {
            order.introselect(nth: k - 1)
        }
        return order.indices[0..<k]
    }

    static func log2Floor(_ n: Int) -> Int { n > 0 ? Int.bitWidth - 1 - n.leadingZeroBitCount : 0 }

    /// torch's comparators: by value, NaN first when descending, last when ascending.
    @inline(__always) func before(_ a: Float, _ b: Float) -> Bool {
        descending ? (a.isNaN && !b.isNaN) || a > b : (!a.isNaN && b.isNaN) || a < b
    }

    @inline(__always) mutating func swapAt(_ i: Int, _ j: Int) {
        values.swapAt(i, j)
        indices.swapAt(i, j)
    }

    // MARK: std::sort

    /// `std::__introsort_loop`, descending only into ranges with a cut strictly inside; the ranges of at most 16
    /// it leaves are then sorted as `std::__final_insertion_sort` sorts them (stably: elements never cross ranges).
    mutating func introsort(_ first: Int, _ last: Int, depth: Int, cuts: [Int]) {
        var last = last, depth = depth
        func splits(_ a: Int, _ b: Int) -> Bool { cuts.contains { a < $0 && $0 < b } }
        while last - first > 16 {
            guard splits(first, last) else { return }
            if depth == 0 {
                heapSelect(first, last, last)
                sortHeap(first, last)
                return
            }
            depth -= 1
            let cut = partitionPivot(first, last)
            introsort(cut, last, depth: depth, cuts: cuts)
            last = cut
        }
        if splits(first, last) { insertionSort(first, last) }
    }

    /// `std::__unguarded_partition_pivot`: median of (first + 1, middle, last − 1) moved to first, then Hoare's
    /// partition around it. Returns the cut.
    mutating func partitionPivot(_ first: Int, _ last: Int) -> Int {
        let a = first + 1, b = first + (last - first) / 2, c = last - 1
        let median: Int
        if before(values[a], values[b]) {
            median = before(values[b], values[c]) ? b : before(values[a], values[c]) ? c : a
        } else {
            median = before(values[a], values[c]) ? a : before(values[b], values[c]) ? c : b
        }
        swapAt(first, median)
        let pivot = values[first]
        var lo = first + 1, hi = last
        while true {
            while before(values[lo], pivot) { lo += 1 }
            hi -= 1
            while before(pivot, values[hi]) { hi -= 1 }
            if lo >= hi { return lo }
            swapAt(lo, hi)
            lo += 1
        }
    }

    /// `std::__insertion_sort`: stable.
    mutating func insertionSort(_ first: Int, _ last: Int) {
        guard last - first > 1 else { return }
        for i in (first + 1)..<last {
            let v = values[i], ix = indices[i]
            var j = i
            while j > first && before(v, values[j - 1]) {
                values[j] = values[j - 1]
                indices[j] = indices[j - 1]
                j -= 1
            }
            values[j] = v
            indices[j] = ix
        }
    }

    // MARK: heaps (std::__adjust_heap, __heap_select, __sort_heap)

    mutating func adjustHeap(_ first: Int, _ hole: Int, _ length: Int, _ value: Float, _ index: Int32) {
        let top = hole
        var hole = hole, child = hole
        while child < (length - 1) / 2 {
            child = 2 * (child + 1)
            if before(values[first + child], values[first + child - 1]) { child -= 1 }
            values[first + hole] = values[first + child]
            indices[first + hole] = indices[first + child]
            hole = child
        }
        if length & 1 == 0 && child == (length - 2) / 2 {
            child = 2 * (child + 1)
            values[first + hole] = values[first + child - 1]
            indices[first + hole] = indices[first + child - 1]
            hole = child - 1
        }
        var parent = (hole - 1) / 2
        while hole > top && before(values[first + parent], value) {
            values[first + hole] = values[first + parent]
            indices[first + hole] = indices[first + parent]
            hole = parent
            parent = (hole - 1) / 2
        }
        values[first + hole] = value
        indices[first + hole] = index
    }

    /// Leaves in [first, middle) the middle − first entries that come first, as a heap.
    mutating func heapSelect(_ first: Int, _ middle: Int, _ last: Int) {
        let length = middle - first
        if length >= 2 {
            var parent = (length - 2) / 2
            while true {
                adjustHeap(first, parent, length, values[first + parent], indices[first + parent])
                if parent == 0 { break }
                parent -= 1
            }
        }
        for i in middle..<last where before(values[i], values[first]) {
            let v = values[i], ix = indices[i]
            values[i] = values[first]
            indices[i] = indices[first]
            adjustHeap(first, 0, length, v, ix)
        }
    }

    mutating func sortHeap(_ first: Int, _ last: Int) {
        var last = last
        while last - first > 1 {
            last -= 1
            let v = values[last], ix = indices[last]
            values[last] = values[first]
            indices[last] = indices[first]
            adjustHeap(first, 0, last - first, v, ix)
        }
    }

    // MARK: std::nth_element

    /// `std::__introselect`: afterwards positions ..< nth + 1 hold the entries that come first.
    mutating func introselect(nth: Int) {
        var first = 0, last = values.count
        var depth = 2 * Self.log2Floor(values.count)
        while last - first > 3 {
            if depth == 0 {
                heapSelect(first, nth + 1, last)
                swapAt(first, nth)
                return
            }
            depth -= 1
            let cut = partitionPivot(first, last)
            if cut <= nth { first = cut } else { last = cut }
        }
        insertionSort(first, last)
    }
}
