import Testing
@testable import XbarSim

/// The observer hook sees every crossbar of a run, and the accumulated read energy is the
/// sum of the per-crossbar energies of the voltages it saw.
struct ObservedRunTests {
    @Test func accumulatorSumsEveryCrossbarOfTheRun() throws {
        let graph = ResourceLatencyTests.convBNActivation()
        let chip = try ResourceLatencyTests.chip(graph, mapping: .paper)
        var values = TestValues(seed: 3)
        let input = Tensor(shape: [2, 4, 4, 3], scalars: values.array(96))
        var seen: [[Int]] = []
        var expected = 0.0
        var t = Technology()
        t.readPulseSeconds = 5e-9
        var accumulator = try ReadEnergyAccumulator(chip: chip, technology: t)
        _ = try chip.run(input, firstImage: 0, threads: 1) { o in
            seen.append([o.stage, o.part])
            expected += ReadEnergy.crossbarJoules(layer: o.layer, input: o.input, voltsPerUnit: chip.voltsPerUnit,
                                                  readSeconds: 5e-9, dac: nil).joules
            accumulator.observe(o)
        }
        #expect(seen == [[0, 0], [1, 1], [1, 2]])
        #expect(accumulator.images == 3)
        let perImage = accumulator.joulesPerImage(ops: 3)
        #expect(perImage[2] == 0)
        #expect(expected > 0)
        #expect(abs(perImage.reduce(0, +) * 3 - expected) <= expected * 1e-12)
        // The conv read energy by hand: 16 positions x Σ over the window of x²·|G|, per image.
        let g = Conv2DGeometry(inChannels: 2, outChannels: 4, kernel: (3, 3), padding: (1, 1), input: (4, 4))
        guard case .crossbar(let layer) = chip.stages[0] else { Issue.record("op 0 is not a crossbar"); return }
        var hand = 0.0
        let rows = layer.mapped.rows
        for n in 0..<3 {
            for oy in 0..<4 {
                for ox in 0..<4 {
                    for r in 0..<g.fanIn {
                        let (c, ky, kx) = (r / 9, (r % 9) / 3, r % 3)
                        let (iy, ix) = (oy + ky - 1, ox + kx - 1)
                        guard (0..<4).contains(iy), (0..<4).contains(ix) else { continue }
                        let v = Double(input.scalars[((c * 4 + iy) * 4 + ix) * 3 + n]) * chip.voltsPerUnit
                        for o in 0..<4 {
                            hand += v * v * (layer.programmed.positiveSiemens[o * rows + r] + layer.programmed.negativeSiemens[o * rows + r])
                        }
                    }
                }
            }
        }
        #expect(abs(perImage[0] * 3 - hand * 5e-9) <= hand * 5e-9 * 1e-5)
    }
}
