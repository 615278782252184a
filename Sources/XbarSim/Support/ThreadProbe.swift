#if canImport(Glibc)
import Glibc
#endif

/// Checks up front that `count` threads can run, so that a `--threads` the system cannot
/// provide (a process or memory limit) is an error naming the flag instead of a worker pool
/// that waits forever for threads that never started.
public enum ThreadProbe {
    /// The most `--threads` XbarSim accepts.
    public static let maximumThreads = 1024

    /// Starts `count - 1` threads that exit at once and joins them; throws when one cannot
    /// be created (with the system's reason).
    public static func ensure(_ count: Int, parameter: String = "--threads") throws {
        guard count >= 1, count <= maximumThreads else {
            throw InputError(parameter: parameter, message: "must be in 1...\(maximumThreads), got \(count)")
        }
        guard count > 1 else { return }
        #if canImport(Glibc)
        var threads: [pthread_t] = []
        threads.reserveCapacity(count - 1)
        var failure: Int32 = 0
        for _ in 1..<count {
            var t = pthread_t()
            let rc = pthread_create(&t, nil, { _ in nil }, nil)
            if rc != 0 {
                failure = rc
                break
            }
            threads.append(t)
        }
        for t in threads { pthread_join(t, nil) }
        if failure != 0 {
            let reason = String(cString: strerror(failure))
            throw InputError(
                parameter: parameter,
                message: "cannot start \(count) threads (thread \(threads.count + 2) failed: \(reason)); use fewer")
        }
        #endif
    }
}
