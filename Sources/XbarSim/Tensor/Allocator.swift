import CKernels

/// Process-wide allocator tuning for the engines' batch-sized buffers.
public enum Allocator {
    /// glibc hands every freed block above its mmap threshold back to the kernel, so a
    /// batch's fresh activation tensors page-fault and are zero-filled by the kernel
    /// again and again (~10% of an analog run in `perf`). This raises the threshold to
    /// glibc's maximum (32 MiB) and the trim threshold to 256 MiB so such blocks are
    /// reused from the heap. Call once at start-up; a no-op off glibc.
    public static func reuseLargeBuffers() {
        xbar_reuse_large_buffers()
    }
}
