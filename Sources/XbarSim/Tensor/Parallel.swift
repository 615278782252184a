import Dispatch

/// Splits independent loop iterations over a fixed number of workers.
///
/// Work is split by index only, so results never depend on thread scheduling.
public enum Parallel {
    /// Calls `body(i)` for every `i` in `0..<count`, on up to `threads` threads.
    public static func forEach(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        let workers = min(max(1, threads), count)
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let start = count * w / workers, end = count * (w + 1) / workers
                for i in start..<end { box.value(i) }
            }
        }
    }
}

extension Parallel {
    /// Splits `0..<count` into up to `threads` contiguous chunks and calls `body` once per
    /// chunk, so a worker can allocate scratch memory once for its whole chunk.
    public static func forEachChunk(_ count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
        let workers = min(max(1, threads), count)
        guard workers > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                box.value((count * w / workers)..<(count * (w + 1) / workers))
            }
        }
    }
}

/// Wraps a value that is shared across threads by construction (each worker
/// writes a disjoint part of a buffer), which the compiler cannot prove.
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
