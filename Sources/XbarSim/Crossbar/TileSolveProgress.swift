import Foundation

/// Progress of IR-drop tile solves, for long solves (large tiles, high wire or source
/// resistances) that would otherwise run for minutes without a word: every solve of a
/// crossbar's tiles reports to the installed handler, at most once per `interval` seconds and
/// only once the solve has run that long. The command-line tool installs a handler that
/// prints a line on stderr; the library installs none.
public final class TileSolveProgress: @unchecked Sendable {
    public typealias Handler = @Sendable (_ report: Report) -> Void

    public struct Report: Sendable {
        /// Tiles solved so far in this solve, and in all.
        public var tilesDone: Int
        public var tilesTotal: Int
        /// Iterations of the fast solver so far (0 for the exact solver).
        public var iterations: Int
        public var secondsElapsed: Double
    }

    public static let shared = TileSolveProgress()

    private let lock = NSLock()
    private var handler: Handler?
    private var interval = 2.0

    /// Installs `handler` (nil removes it), called at most every `interval` seconds.
    public func install(interval: Double = 2, _ handler: Handler?) {
        lock.lock()
        defer { lock.unlock() }
        self.handler = handler
        self.interval = interval
    }

    /// A counter for one solve of `total` tiles (safe to call from the solving threads).
    func tracker(total: Int) -> Tracker {
        lock.lock()
        defer { lock.unlock() }
        return Tracker(total: total, handler: handler, interval: interval)
    }

    final class Tracker: @unchecked Sendable {
        let total: Int
        let handler: Handler?
        let interval: Double
        let start = Date()
        let lock = NSLock()
        var done = 0
        var iterations = 0
        var lastReport: Double = 0

        init(total: Int, handler: Handler?, interval: Double) {
            self.total = total
            self.handler = handler
            self.interval = interval
        }

        func tileDone(iterations its: Int) {
            guard let handler else { return }
            lock.lock()
            done += 1
            iterations += its
            let elapsed = Date().timeIntervalSince(start)
            let due = elapsed - lastReport >= interval
            if due { lastReport = elapsed }
            let report = Report(tilesDone: done, tilesTotal: total, iterations: iterations, secondsElapsed: elapsed)
            lock.unlock()
            if due { handler(report) }
        }
    }
}
