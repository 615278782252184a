/// How a convolution is laid out on crossbars.
public enum ConvolutionLayout: String, Sendable, Hashable, Codable, CaseIterable {
    /// Each kernel is programmed once; the output positions of a layer are computed one
    /// after another (`outH·outW` sequential reads per image), and the op-amps, BN
    /// stages and activation circuits of one position are reused for the next.
    case weightStationary = "weight-stationary"
    /// The reference design's placement: one copy of the kernel (and of every circuit
    /// behind it) per output position, so a whole layer is computed in one read.
    case spatiallyUnrolled = "spatially-unrolled"
}

/// How images move through the chip.
public enum Schedule: String, Sendable, Hashable, Codable, CaseIterable {
    /// One image at a time: the next image enters when the previous one has left.
    /// Time per image = latency.
    case layerByLayer = "layer-by-layer"
    /// Every op works on a different image (inter-layer pipeline): a new image enters
    /// every `max_op(steps · stage time)`; the latency of one image is unchanged.
    case pipelined
}
