import CHDF5

// The one place that reads HDF5's "negative means failure" convention.
// (HDF5 keeps a per-thread error stack; automatic printing of it is silenced in
// `HDF5Library.prepareThread()` because XbarSim reports errors itself.)

enum HDF5Library {
    /// Opens the library and silences its own stderr error printing for the calling
    /// thread. Debian's HDF5 is built thread-safe, which makes the error-printing
    /// setting per thread, so every entry point calls this (it is cheap).
    static func prepareThread() {
        H5open()
        xbar_H5_silence_errors()
    }
}

@discardableResult
func h5check<T: BinaryInteger>(
    _ result: T, _ function: StaticString, file: String, object: String
) throws -> T {
    guard result >= 0 else {
        throw HDF5Error(file: file, object: object, message: "\(function) failed")
    }
    return result
}

/// Closes an HDF5 identifier of any kind when the closure returns or throws.
@inline(__always)
func h5closing<R>(_ id: hid_t, _ close: (hid_t) -> herr_t, _ body: (hid_t) throws -> R) rethrows -> R {
    defer { _ = close(id) }
    return try body(id)
}
