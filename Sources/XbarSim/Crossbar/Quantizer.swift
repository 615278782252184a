/// A symmetric uniform quantizer over `[-range, +range]`, the transfer function of an
/// ideal signed DAC or ADC with `bits` bits: `2^(bits-1) - 1` steps each side of zero,
/// step `range / (2^(bits-1) - 1)`, values beyond the range clipped.
public struct SymmetricQuantizer: Sendable, Hashable {
    public var bits: Int
    public var range: Float

    public init(bits: Int, range: Float) {
        precondition(bits >= 2 && range > 0)
        self.bits = bits
        self.range = range
    }

    public var step: Float { range / Float((1 << (bits - 1)) - 1) }

    @inline(__always)
    public func callAsFunction(_ x: Float) -> Float {
        let s = step
        return (min(max(x, -range), range) / s).rounded(.toNearestOrEven) * s
    }

    /// Quantizes every element in place.
    public func apply(_ buffer: UnsafeMutableBufferPointer<Float>) {
        let (s, inv, r) = (step, 1 / step, range)
        for k in buffer.indices { buffer[k] = (min(max(buffer[k], -r), r) * inv).rounded(.toNearestOrEven) * s }
    }
}

/// Input digital-to-analog converter of a crossbar (digitized mode).
public struct DAC: Sendable, Hashable, Codable {
    /// nil: ideal (no quantization, no clipping).
    public var bits: Int?
    public init(bits: Int? = nil) { self.bits = bits }

    public func validate() throws(CrossbarParameterError) { try validateConverterBits(bits, flag: "--dac-bits") }
}

/// Output analog-to-digital converter of each tile (digitized mode).
public struct ADC: Sendable, Hashable, Codable {
    /// nil: ideal.
    public var bits: Int?
    public init(bits: Int? = nil) { self.bits = bits }

    public func validate() throws(CrossbarParameterError) { try validateConverterBits(bits, flag: "--adc-bits") }
}

/// Converter resolutions XbarSim accepts: 2...24 bits, or nil (ideal).
func validateConverterBits(_ bits: Int?, flag: String) throws(CrossbarParameterError) {
    if let bits, !(2...24).contains(bits) {
        throw CrossbarParameterError(parameter: flag, message: "must be 2...24 (or 0 for ideal), got \(bits)")
    }
}
