import Foundation
import XbarSimTensor

/// Runs an evaluation's batches on `workers` threads at once, each batch single-threaded
/// (data parallelism), instead of one batch at a time with every kernel split over threads.
///
/// On this project's 2-core machines the analog engine's many short kernels (noise
/// passes, BN stages, activations) split poorly, and OpenBLAS's idle threads spin while
/// XbarSim's own loops run: measured 299 images/s with 2 threads against 338 with one
/// (`--preset rram`, 2,000 images). Batches are independent and every random draw is
/// keyed by test image, so the results do not depend on `workers` or on scheduling.
enum BatchRunner {
    /// Calls `body(range, threads)` for every batch (in any order, `threads` is what the
    /// batch may use) and returns the sum of its results; `done` is called after each
    /// batch with the number of images finished so far (serialised).
    static func sum(
        _ batches: [Range<Int>], workers: Int, blasThreads: Int,
        _ body: @escaping @Sendable (Range<Int>, Int) throws -> Int, done: ((Int) -> Void)? = nil
    ) throws -> Int {
        let workers = min(max(1, workers), batches.count)
        guard workers > 1 else {
            var total = 0
            var images = 0
            for range in batches {
                total += try body(range, blasThreads)
                images += range.count
                done?(images)
            }
            return total
        }
        BLAS.setThreads(1)
        defer { BLAS.setThreads(blasThreads) }
        let lock = NSLock()
        let state = UncheckedSendable(Box())
        let progress = UncheckedSendable(done)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                lock.lock()
                let box = state.value
                guard box.failure == nil, box.next < batches.count else {
                    lock.unlock()
                    return
                }
                let range = batches[box.next]
                box.next += 1
                lock.unlock()
                do {
                    let result = try body(range, 1)
                    lock.lock()
                    box.total += result
                    box.images += range.count
                    progress.value?(box.images)
                    lock.unlock()
                } catch {
                    lock.lock()
                    if box.failure == nil { box.failure = error }
                    lock.unlock()
                }
            }
        }
        if let failure = state.value.failure { throw failure }
        return state.value.total
    }

    private final class Box {
        var next = 0
        var total = 0
        var images = 0
        var failure: Error?
    }
}
