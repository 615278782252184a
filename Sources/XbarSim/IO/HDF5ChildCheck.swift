import Foundation

/// Reading a corrupt HDF5 file can crash inside libhdf5 itself: it trusts sizes and indices in
/// the file's metadata (a heap object index, a chunk's extent) that a flipped bit makes point
/// outside its buffers, and no check the caller can make through its API catches every such
/// case. A program that must turn every bad file into an error therefore reads the file once
/// in a child process first: if the child dies of a signal or does not finish, the parent
/// reports the file as corrupt, naming it, instead of crashing.
///
/// `HDF5File.readPreflight`, when set (the `xbarsim` tool sets it), runs before every file is
/// opened for reading; `childCheck` is the usual body.
extension HDF5File {
    /// Called with the path before a file is opened for reading; throws to refuse the file.
    nonisolated(unsafe) public static var readPreflight: ((String) throws -> Void)?

    /// Runs `executable arguments` (which must read the file at `path` completely and exit) and
    /// throws when it dies of a signal or runs longer than `timeout` seconds. A normal exit,
    /// successful or not, passes: the caller's own read then reports any ordinary error.
    public static func childCheck(path: String, executable: String, arguments: [String], timeout: Double = 120) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        // glibc fills fresh and freed heap memory with a pattern: a read that libhdf5 makes past
        // its buffers (a corrupt heap index, say) then meets garbage pointers and crashes in the
        // child reliably, instead of passing there by the luck of the heap layout and crashing
        // in the parent.
        var environment = ProcessInfo.processInfo.environment
        environment["MALLOC_PERTURB_"] = "165"
        p.environment = environment
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch {
            return  // cannot check in a child: read it here as before
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(5_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            throw HDF5Error(file: path, object: "/",
                            message: "corrupt HDF5 file: reading it did not finish in \(Int(timeout)) s")
        }
        if p.terminationReason == .uncaughtSignal {
            throw HDF5Error(file: path, object: "/",
                            message: "corrupt HDF5 file: the HDF5 library crashed reading it (signal \(p.terminationStatus))")
        }
    }
}
