import Foundation

/// Every non-ideality of the memory devices of one chip, with `program` turning target
/// conductances into the conductances read at `drift.timeSeconds`.
///
/// The defaults (`DeviceModel.ideal`): 1–100 µS window, continuous levels, no variation, read
/// noise, faults or drift. Edit a copy to add effects; call `validate()` where the model
/// enters the library (`program` only checks buffer sizes).
public struct DeviceModel: Sendable, Hashable, Codable {
    public var window = ConductanceWindow()
    public var levels: ConductanceLevels = .continuous
    public var variation = ProgrammingVariation()
    public var readNoise = ReadNoise()
    public var stuck = StuckFaults()
    public var drift = Drift()
    /// Program-and-verify rounds after the first programming (`--write-verify`); none by default.
    public var writeVerify = WriteVerify()

    public init(
        window: ConductanceWindow = ConductanceWindow(), levels: ConductanceLevels = .continuous,
        variation: ProgrammingVariation = ProgrammingVariation(), readNoise: ReadNoise = ReadNoise(),
        stuck: StuckFaults = StuckFaults(), drift: Drift = Drift(), writeVerify: WriteVerify = WriteVerify()
    ) {
        self.writeVerify = writeVerify
        self.window = window
        self.levels = levels
        self.variation = variation
        self.readNoise = readNoise
        self.stuck = stuck
        self.drift = drift
    }

    /// Exact devices: continuous levels, no noise, no faults, no drift.
    public static let ideal = DeviceModel()

    public func validate() throws(DeviceParameterError) {
        try window.validate()
        try levels.validate()
        try variation.validate()
        try readNoise.validate()
        try stuck.validate()
        try drift.validate()
        try writeVerify.validate()
    }

    /// Decodes every field present and keeps the default for the others (configurations
    /// stored before a field existed, e.g. sweep manifests without `writeVerify`).
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        window = try c.decodeIfPresent(ConductanceWindow.self, forKey: .window) ?? window
        levels = try c.decodeIfPresent(ConductanceLevels.self, forKey: .levels) ?? levels
        variation = try c.decodeIfPresent(ProgrammingVariation.self, forKey: .variation) ?? variation
        readNoise = try c.decodeIfPresent(ReadNoise.self, forKey: .readNoise) ?? readNoise
        stuck = try c.decodeIfPresent(StuckFaults.self, forKey: .stuck) ?? stuck
        drift = try c.decodeIfPresent(Drift.self, forKey: .drift) ?? drift
        writeVerify = try c.decodeIfPresent(WriteVerify.self, forKey: .writeVerify) ?? writeVerify
    }

    /// Programs one crossbar's devices; returns the conductances at read time and before drift
    /// (equal arrays without drift), both in siemens. See
    /// `program(_:into:beforeDrift:seed:key:)` for the pipeline.
    ///
    /// - Parameter key: identifies the crossbar on its chip, e.g. `[chip, layer, part]`.
    public func program(
        _ targets: [Double], seed: UInt64, key: [UInt64]
    ) -> (atReadTime: [Double], beforeDrift: [Double]) {
        let r = programCounting(targets, seed: seed, key: key)
        return (r.atReadTime, r.beforeDrift)
    }

    /// `program(_:seed:key:)`, with what programming cost (`ProgrammingCounts`: pulses and
    /// verify reads of `writeVerify`).
    public func programCounting(
        _ targets: [Double], seed: UInt64, key: [UInt64]
    ) -> (atReadTime: [Double], beforeDrift: [Double], counts: ProgrammingCounts) {
        let n = targets.count
        var counts = ProgrammingCounts()
        guard drift.isActive else {
            let g = [Double](unsafeUninitializedCapacity: n) { out, count in
                counts = targets.withUnsafeBufferPointer {
                    programCounting($0, into: out, beforeDrift: nil, seed: seed, key: key)
                }
                count = n
            }
            return (g, g, counts)
        }
        var fresh = [Double](repeating: 0, count: n)
        let g = [Double](unsafeUninitializedCapacity: n) { out, count in
            counts = targets.withUnsafeBufferPointer { t in
                fresh.withUnsafeMutableBufferPointer { programCounting(t, into: out, beforeDrift: $0, seed: seed, key: key) }
            }
            count = n
        }
        return (g, fresh, counts)
    }

    /// Programs `targets` (siemens) into `atReadTime`, and the values before drift into
    /// `beforeDrift` when given (for `Drift.globalCompensationFactor`).
    ///
    /// For each device `i` with target `g_i`:
    ///
    /// 0. `g_i == 0` means *no device* (zero weights get none): the output is exactly 0, with
    ///    no fault, noise or drift. Any other target is a device.
    /// 1. Levels: clip to the window, round to the nearest level (`ConductanceLevels.quantize`).
    /// 2. Programming variation with draw `z_i`, then clip to the window (`ProgrammingVariation`).
    /// 3. Stuck faults from uniform `u_i`: stuck-on devices sit at exactly gMax, stuck-off at
    ///    exactly gMin (`StuckFaults`); they do not drift.
    /// 3b. Write-verify (`WriteVerify`, none by default): up to `N` rounds of a verify read and,
    ///    outside the tolerance band, a fresh programming draw; stuck devices do not move. → `beforeDrift[i]`
    /// 4. Drift: `G·(t/t0)^(−ν_i)`, `ν_i = max(0, nuMean + nuSigma·z′_i)` (`Drift`). → `atReadTime[i]`
    ///
    /// Each effect draws from its own stream, `RandomStream(seed:key: key + [purpose])` with
    /// purposes `.programming` (z), `.stuck` (u) and `.drift` (z′), and device `i` always uses
    /// draw `i` of each stream, present or not, stuck or not. So results depend only on
    /// `(seed, key, i)`, and switching one effect on or off leaves the others' draws alone.
    /// Normals come from `RandomStream.fillGaussian` (single precision, |z| ≤ 6.55); uniforms
    /// are the 53-bit `nextUniform`. No allocation per device: 1.5 M devices take about 10 ms
    /// (ideal) to 40 ms (every effect, two `exp` per device) in release builds.
    public func program(
        _ targets: UnsafeBufferPointer<Double>, into atReadTime: UnsafeMutableBufferPointer<Double>,
        beforeDrift: UnsafeMutableBufferPointer<Double>?, seed: UInt64, key: [UInt64]
    ) {
        _ = programCounting(targets, into: atReadTime, beforeDrift: beforeDrift, seed: seed, key: key)
    }

    /// `program(_:into:beforeDrift:seed:key:)`, returning the pulses and verify reads it took.
    public func programCounting(
        _ targets: UnsafeBufferPointer<Double>, into atReadTime: UnsafeMutableBufferPointer<Double>,
        beforeDrift: UnsafeMutableBufferPointer<Double>?, seed: UInt64, key: [UInt64]
    ) -> ProgrammingCounts {
        let n = targets.count
        precondition(atReadTime.count == n && (beforeDrift?.count ?? n) == n, "buffer sizes differ")
        let quantizer = LevelQuantizer(levels, window)
        let (gMin, gMax) = (window.gMinSiemens, window.gMaxSiemens)
        let useVariation = variation.relativeSigma > 0
        let useStuck = stuck.isActive
        let useDrift = drift.isActive
        let drawNu = useDrift && drift.nuSigma > 0
        let logRatio = drift.logTimeRatio
        let fixedDriftFactor = exp(-drift.nuMean * logRatio)
        let variation = self.variation
        let stuck = self.stuck
        var variationStream = RandomStream(seed: seed, key: key + [StreamPurpose.programming.rawValue])
        var stuckStream = RandomStream(seed: seed, key: key + [StreamPurpose.stuck.rawValue])
        var driftStream = RandomStream(seed: seed, key: key + [StreamPurpose.drift.rawValue])
        // Write-verify: per round k, a programming and a verify-read stream.
        let rounds = writeVerify.iterations
        let tolerance = writeVerify.tolerance
        let readSigma = readNoise.relativeSigma
        let wv = StreamPurpose.writeVerify.rawValue
        var roundProgramming = (0..<rounds).map {
            RandomStream(seed: seed, key: key + [wv, UInt64($0 + 1), StreamPurpose.programming.rawValue])
        }
        var roundReads = (0..<rounds).map {
            RandomStream(seed: seed, key: key + [wv, UInt64($0 + 1), StreamPurpose.readNoise.rawValue])
        }
        var counts = ProgrammingCounts()

        let chunk = 512  // even, so normal i is always from word i/2 of its stream
        withUnsafeTemporaryAllocation(of: Float.self, capacity: (2 + 2 * rounds) * chunk) { scratch in
            let zVariation = UnsafeMutableBufferPointer(rebasing: scratch[0..<chunk])
            let zDrift = UnsafeMutableBufferPointer(rebasing: scratch[chunk..<(2 * chunk)])
            // Round k's draws: programming at (2 + 2k)·chunk, read at (3 + 2k)·chunk.
            let zRounds = scratch.baseAddress! + 2 * chunk
            var start = 0
            while start < n {
                let m = min(chunk, n - start)
                if useVariation {
                    variationStream.fillGaussian(.init(rebasing: zVariation[0..<m]), standardDeviation: 1)
                }
                if drawNu { driftStream.fillGaussian(.init(rebasing: zDrift[0..<m]), standardDeviation: 1) }
                for k in 0..<rounds {
                    if useVariation {
                        roundProgramming[k].fillGaussian(.init(start: zRounds + 2 * k * chunk, count: m), standardDeviation: 1)
                    }
                    if readSigma > 0 {
                        roundReads[k].fillGaussian(.init(start: zRounds + (2 * k + 1) * chunk, count: m), standardDeviation: 1)
                    }
                }
                for j in 0..<m {
                    let i = start + j
                    let u = useStuck ? stuckStream.nextUniform() : 1
                    let target = targets[i]
                    if target == 0 {
                        atReadTime[i] = 0
                        beforeDrift?[i] = 0
                        continue
                    }
                    let q = quantizer.quantize(target)
                    var g = q
                    if useVariation { g = variation.apply(g, window: window, z: Double(zVariation[j])) }
                    var drifts = useDrift
                    var stuckHere = false
                    if useStuck {
                        switch stuck.state(forUniform: u) {
                        case .programmable: break
                        case .stuckOn: g = gMax; drifts = false; stuckHere = true
                        case .stuckOff: g = gMin; drifts = false; stuckHere = true
                        }
                    }
                    counts.devices += 1
                    counts.programPulses += 1
                    let band = tolerance * q
                    for k in 0..<rounds {
                        let read = readSigma > 0 ? g * (1 + readSigma * Double(zRounds[(2 * k + 1) * chunk + j])) : g
                        counts.verifyReads += 1
                        if abs(read - q) <= band { break }
                        counts.programPulses += 1
                        if !stuckHere {
                            g = useVariation ? variation.apply(q, window: window, z: Double(zRounds[2 * k * chunk + j])) : q
                        }
                    }
                    if abs(g - q) > band { counts.devicesOutsideTolerance += 1 }
                    beforeDrift?[i] = g
                    if drifts {
                        let factor = drawNu ? exp(-drift.nu(z: Double(zDrift[j])) * logRatio) : fixedDriftFactor
                        g *= factor
                    }
                    atReadTime[i] = g
                }
                start += m
            }
        }
        return counts
    }
}

extension DeviceModel {
    /// Reprograms some devices of a crossbar after its programming (post-programming
    /// calibration): device `indices[j]` of the array first programmed by
    /// `program(_:seed:key:)` with `key` gets the new target `targets[j]` (siemens).
    ///
    /// Model of a reprogrammed device: target 0 is no device (0 S); any other target is clipped
    /// to the window and rounded to the levels, then gets a fresh programming-variation draw
    /// (stream `key + [calibrationPass, StreamPurpose.programming]`, draw `j`), and does not
    /// drift (calibration runs at read time and the device is read right after). A device that
    /// is stuck (the same stuck-fault draw as at programming, so the same devices) keeps its
    /// stuck value: stuck-on at `G_max`, stuck-off at `G_min`.
    public func reprogram(
        _ targets: [Double], at indices: [Int], seed: UInt64, key: [UInt64], calibrationPass: UInt64
    ) -> [Double] {
        precondition(targets.count == indices.count)
        var states = [DeviceState](repeating: .programmable, count: indices.count)
        if stuck.isActive, let last = indices.max() {
            // Replay the stuck stream: device i used uniform draw i.
            var stream = RandomStream(seed: seed, key: key + [StreamPurpose.stuck.rawValue])
            var uniforms = [Double](repeating: 1, count: last + 1)
            for i in 0...last { uniforms[i] = stream.nextUniform() }
            for (j, i) in indices.enumerated() { states[j] = stuck.state(forUniform: uniforms[i]) }
        }
        let quantizer = LevelQuantizer(levels, window)
        var variationStream = RandomStream(seed: seed, key: key + [calibrationPass, StreamPurpose.programming.rawValue])
        var out = [Double](repeating: 0, count: targets.count)
        for (j, target) in targets.enumerated() {
            let z = variation.relativeSigma > 0 ? variationStream.nextGaussian() : 0
            guard target != 0 else { continue }
            switch states[j] {
            case .stuckOn: out[j] = window.gMaxSiemens
            case .stuckOff: out[j] = window.gMinSiemens
            case .programmable:
                var g = quantizer.quantize(target)
                if variation.relativeSigma > 0 { g = variation.apply(g, window: window, z: z) }
                out[j] = g
            }
        }
        return out
    }
}
