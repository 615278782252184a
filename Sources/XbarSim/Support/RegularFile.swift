#if canImport(Glibc)
import Glibc
#endif

/// Whether `path` (after symbolic links) is a regular file. Input files are read whole; a FIFO
/// or a character device given as one would block forever or never end.
public func isRegularFile(_ path: String) -> Bool {
    #if canImport(Glibc)
    var st = stat()
    guard stat(path, &st) == 0 else { return false }
    return (st.st_mode & S_IFMT) == S_IFREG
    #else
    return true
    #endif
}
