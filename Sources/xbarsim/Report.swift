import ArgumentParser
import Foundation
import XbarSim

extension ConvolutionLayout: ExpressibleByArgument {}
extension Schedule: ExpressibleByArgument {}

extension XbarSimCommand {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resources, energy and latency per image of a simulated chip, with the float CPU time.",
            discussion: """
                Runs --images test images through the float engine (timed) and through one \
                simulated chip, taking the crossbar read energy from the actual voltages and \
                conductances of that run. Technology numbers (docs/energy.md) come from the \
                preset (paper: the reference design's assumptions) and --tech / --tech-set.
                """)

        @OptionGroup var common: ModelOptions

        @OptionGroup(title: "Simulated chip") var chip: ChipOptions

        @Option(help: ArgumentHelp("JSON file of technology fields to override (see docs/technology-default.json).",
                                   valueName: "path"))
        var tech: String?

        @Option(name: .customLong("tech-set"), parsing: .singleValue,
                help: ArgumentHelp("Override one technology field, e.g. opAmpStaticPowerWatts=1e-4 (repeatable).",
                                   valueName: "field=value"))
        var techSet: [String] = []

        @Option(help: "Convolution layout the headline figures use (both are always computed).")
        var layout: ConvolutionLayout = .spatiallyUnrolled

        @Option(help: "How images move through the chip (both are always computed).")
        var schedule: Schedule = .layerByLayer

        @Option(parsing: .unconditional, help: ArgumentHelp("Test images run to observe voltages and time the float engine.", valueName: "n"))
        var images: Int = 256

        @Option(parsing: .unconditional, help: ArgumentHelp("Seed of every random draw.", valueName: "n"))
        var seed: UInt64 = 0

        @Option(parsing: .unconditional, help: ArgumentHelp("Images per batch.", valueName: "n"))
        var batch: Int = EvaluationSettings().batchSize

        @Flag(help: "Print one JSON object (memristors, opAmps, tiles, energyPerImageJoules, latencySeconds, layers, ...).")
        var json = false

        @Option(help: ArgumentHelp("Also write the report as Markdown to this file.", valueName: "path"))
        var markdown: String?

        var settings: EvaluationSettings { common.settings(limit: images, batch: batch) }

        /// The preset's technology with --tech and --tech-set applied.
        func technology() throws -> Technology {
            var t: Technology = chip.preset == .paper ? .paper : .default
            do {
                if let tech { t = try t.applying(file: tech) }
                for item in techSet {
                    let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else {
                        throw TechnologyError(source: "--tech-set", field: nil, message: "expected field=value, got '\(item)'")
                    }
                    try t.set(parts[0], to: parts[1], source: "--tech-set")
                }
            } catch {
                throw ValidationError("\(error)")
            }
            return t
        }

        func validate() throws {
            guard images > 0 else { throw ValidationError("--images: must be positive, got \(images)") }
            try usage { try CommandLimits.check(images, CommandLimits.images, flag: "--images") }
            do { try settings.validate() } catch let error as SettingsError { throw ValidationError(error.description) }
            _ = try technology()
        }

        func run() throws {
            let inputs = try EvaluationInputs(settings: settings)
            let report = try Evaluation.chipReport(
                inputs, settings: settings, config: try chip.uncalibratedConfig(command: "report"), preset: chip.preset, seed: seed,
                technology: try technology(), layout: layout, schedule: schedule)
            let text = ReportFormat.markdown(report)
            if let markdown {
                do {
                    try text.write(toFile: markdown, atomically: true, encoding: .utf8)
                } catch {
                    throw ValidationError("--markdown: cannot write \(markdown): \(error.localizedDescription)")
                }
            }
            if json { return try printJSON(report) }
            print(text, terminator: "")
        }
    }
}

/// Markdown rendering of a chip report (stdout and --markdown).
enum ReportFormat {
    static func si(_ value: Double, _ unit: String) -> String {
        let prefixes: [(Double, String)] = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "µ"),
                                            (1e-9, "n"), (1e-12, "p"), (1e-15, "f")]
        guard value != 0, value.isFinite else { return "0 \(unit)" }
        let (scale, prefix) = prefixes.first { abs(value) >= $0.0 } ?? (1e-15, "f")
        return String(format: "%.3g %@%@", value / scale, prefix, unit)
    }

    static func markdown(_ r: ChipReport) -> String {
        var s = ""
        let c = r.parameters
        s += "# Chip report\n\n"
        s += "- model `\(r.model)`, \(r.images) test images, seed \(r.seed), \(r.threads) threads\n"
        s += "- chip: preset \(r.preset ?? "-"), mapping \(c.mapping.rawValue), mode \(c.mode.rawValue), tile \(c.tile), "
            + "scaling \(c.scaling.description), input \(si(c.periphery.inputVoltageVolts, "V")) "
            + "(\(si(r.voltsPerUnit, "V")) per unit)\n"
        s += "- headline layout \(r.layout.rawValue), schedule \(r.schedule.rawValue)\n"
        s += "- accuracy on these images: analog \(formatPercent(r.analogAccuracy)), float \(formatPercent(r.floatAccuracy))\n\n"
        s += "## Totals\n\n| | |\n|---|---|\n"
        s += "| memristors | \(r.memristors) |\n| op-amps | \(r.opAmps) (TIAs \(r.opAmpsByRole.tias), subtractors "
            + "\(r.opAmpsByRole.subtractors), inverters \(r.opAmpsByRole.inverters), BN \(r.opAmpsByRole.batchNorm), "
            + "activation \(r.opAmpsByRole.activation), "
            + "summers \(r.opAmpsByRole.summers), max-pool \(r.opAmpsByRole.maxPool)) |\n"
            + "| analog multipliers | \(r.opAmpsByRole.multipliers) |\n"
        if let digital = r.digitalOps, !digital.isEmpty {
            s += "| digital ops (ADC, function, DAC) | \(digital.count): \(digital.joined(separator: ", ")) |\n"
        }
        s += "| crossbars (tiles) | \(r.tiles), utilisation \(String(format: "%.3g", r.tileUtilisation * 100)) % |\n"
        s += "| DACs / ADCs | \(r.dacs) / \(r.adcs) |\n"
        s += "| energy per image | \(si(r.energyPerImageJoules, "J")) |\n"
        let e = r.energyBreakdownJoules
        s += "| - crossbar read (V²Gt, measured) | \(si(e.crossbarReadJoules, "J")) |\n"
        s += "| - wires and drivers (I²R) | \(si(e.wireJoules, "J")) |\n| - op-amps | \(si(e.opAmpJoules, "J")) |\n"
        s += "| - multipliers | \(si(e.multiplierJoules, "J")) |\n| - DACs | \(si(e.dacJoules, "J")) |\n"
        s += "| - ADCs | \(si(e.adcJoules, "J")) |\n"
        s += "| read energy from | \(readEnergySource(r)) |\n"
        s += "| latency per image | \(si(r.latencySeconds, "s")) |\n"
        s += "| chip throughput | \(String(format: "%.4g", r.imagesPerSecond)) images/s |\n"
        if let p = r.programming {
            s += "| write-verify programming (once per chip) | \(p.programPulses) pulses, \(p.verifyReads) verify reads: "
                + "\(si(p.energyJoules, "J")), \(si(p.serialSeconds, "s")) serial |\n"
        }
        s += "| float reference on this CPU | \(si(r.floatCPUSecondsPerImage, "s")) per image "
            + "(\(String(format: "%.1f", r.floatImagesPerSecond)) images/s, \(r.threads) threads) |\n\n"
        s += "## Layouts and schedules\n\n"
        s += "| layout | schedule | memristors | op-amps | tiles | latency | images/s | energy/image |\n|---|---|---|---|---|---|---|---|\n"
        for l in r.layouts {
            s += "| \(l.layout.rawValue) | \(l.schedule.rawValue) | \(l.memristors) | \(l.opAmps) | \(l.tiles) | "
                + "\(si(l.latencySeconds, "s")) | \(String(format: "%.4g", l.imagesPerSecond)) | \(si(l.energyPerImageJoules, "J")) |\n"
        }
        s += "\n## Mapping schemes (\(r.layout.rawValue))\n\n"
        s += "| mapping | memristors | op-amps | of which conv/FC | TIAs | subtractors | inverters | BN | tiles |\n"
        s += "|---|---|---|---|---|---|---|---|---|\n"
        for m in r.schemes {
            let o = m.opAmpsByRole
            s += "| \(m.mapping.rawValue) | \(m.memristors) | \(m.opAmps) | \(m.convolutionAndFCOpAmps) | \(o.tias) | "
                + "\(o.subtractors) | \(o.inverters) | \(o.batchNorm) | \(m.tiles) |\n"
        }
        let ref = r.reference
        s += "\n## Reference design's figures\n\n| | |\n|---|---|\n"
        s += "| input voltage | \(si(ref.inputVoltageVolts, "V")) |\n"
        s += "| largest conv/FC weight, share within ±0.2 | \(String(format: "%.3g", ref.largestWeight)), "
            + "\(String(format: "%.1f", ref.fractionOfWeightsWithin0p2 * 100)) % |\n"
        s += "| V_in² · 0.2 S (paper: 1.1 µW) | \(si(ref.paperCaseDevicePowerWatts, "W")) |\n"
        s += "| V_in² · largest G (\(si(ref.largestConductanceSiemens, "S"))) | \(si(ref.closedFormMaxDevicePowerWatts, "W")) |\n"
        s += "| largest device power in the run (bound) | \(si(ref.observedMaxDevicePowerWatts, "W")) at \(ref.observedMaxDevicePowerOp) |\n"
        s += "| the same, convolution/FC crossbars only | \(si(ref.observedMaxConvolutionDevicePowerWatts, "W")) at "
            + "\(ref.observedMaxConvolutionDevicePowerOp) |\n"
        s += "| CMOS equivalent cell | \(si(ref.cmosEquivalentCellPowerWatts, "W")) |\n"
        s += "| 1.24 µs in device responses | \(String(format: "%.0f", ref.paperLatencyInDeviceResponses)) |\n"
        s += "| critical-path reads: unrolled / weight-stationary | \(ref.unrolledCriticalPathReads) / "
            + "\(ref.weightStationaryCriticalPathReads) (BN as one read: \(ref.weightStationaryCriticalPathReadsBatchNormAsOne), "
            + "without BN: \(ref.weightStationaryCriticalPathReadsWithoutBatchNorm)) |\n"
        s += "| conv/FC op-amps: paper / two-TIA / differential | \(ref.convolutionAndFCOpAmpsPaper) / "
            + "\(ref.convolutionAndFCOpAmpsTwoTIA) / \(ref.convolutionAndFCOpAmpsDifferential) |\n"
        s += "\n## Per op (\(r.layout.rawValue), \(r.schedule.rawValue))\n\n"
        s += "| # | op | type | memristors | tiles | util. | op-amps | mult. | steps | busy | read | wires | energy/image |\n"
        s += "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        for l in r.layers {
            s += "| \(l.index) | \(l.op) | \(l.type) | \(l.memristors) | \(l.tiles) | "
                + "\(l.tiles > 0 ? String(format: "%.3g", l.tileUtilisation) : "-") | \(l.opAmps) | \(l.opAmpsByRole.multipliers) | "
                + "\(l.steps) | \(si(l.busySeconds, "s")) | \(si(l.energy.crossbarReadJoules, "J")) | "
                + "\(si(l.energy.wireJoules, "J")) | \(si(l.energyPerImageJoules, "J")) |\n"
        }
        return s
    }

    /// Which model gave the crossbar read and wire energy.
    static func readEnergySource(_ r: ChipReport) -> String {
        switch r.readEnergySolver {
        case .off: "ideal wires (closed form `t·Σ V²·ΣG`; no wire energy)"
        case .fast, .exact:
            "IR drop, \(r.readEnergySolver.rawValue) solver: every tile solved once into quadratic forms "
                + "(device `Σ G·(w−b)²·t`, wires `I²R·t`), \(String(format: "%.1f", r.readEnergyFormSeconds)) s; "
                + "the same voltages with ideal wires: \(si(r.idealWireReadJoulesPerImage, "J")) crossbar read"
        }
    }
}
