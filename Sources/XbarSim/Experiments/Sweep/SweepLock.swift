import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a sweep folder (`flock` on `DIR/.lock`), held while a run or a merge
/// writes there, so that two processes given the same `--out` do not both compute every point
/// and append each twice. The second one is refused at once with a message naming the folder
/// and the holder's process id. The kernel releases the lock when the holder exits, even on
/// SIGKILL, so a killed run never leaves the folder locked.
public final class SweepLock: @unchecked Sendable {
    public let path: String
    private var descriptor: Int32

    /// Creates `directory` if needed and takes its lock, or throws `SweepStoreError` when
    /// another process holds it.
    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SweepStoreError(file: path, message: "cannot open the sweep lock: \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            var holder = ""
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let pid = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                holder = " (process \(pid))"
            }
            close(descriptor)
            descriptor = -1
            if reason == EWOULDBLOCK {
                throw SweepStoreError(
                    file: directory,
                    message: "another xbarsim sweep is writing to this folder\(holder); wait for it to finish "
                        + "(rerunning the same command afterwards resumes) or choose another --out")
            }
            throw SweepStoreError(file: path, message: "cannot lock the sweep folder: \(String(cString: strerror(reason)))")
        }
        // Record the holder for the message another process prints.
        _ = ftruncate(descriptor, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// Releases the lock (also done when the object goes away or the process exits).
    public func release() {
        guard descriptor >= 0 else { return }
        _ = flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
