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

        @Flag(name: .customLong("compare-mappings"),
              help: "Instead of the report: op-amps by role, devices, crossbar rows and energy per image under every mapping scheme (paper, differential, inverted-output), and the 'op-amps halved' verdict.")
        var compareMappings = false

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
            if compareMappings {
                let comparison = try Evaluation.compareMappings(
                    inputs, settings: settings, config: try chip.uncalibratedConfig(command: "report"), preset: chip.preset,
                    seed: seed, technology: try technology(), layout: layout, schedule: schedule)
                let text = ReportFormat.markdown(comparison)
                if let markdown {
                    do {
                        try text.write(toFile: markdown, atomically: true, encoding: .utf8)
                    } catch {
                        throw ValidationError("--markdown: cannot write \(markdown): \(error.localizedDescription)")
                    }
                }
                if json { return try printJSON(comparison) }
                print(text, terminator: "")
                return
            }
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

    /// The mapping-scheme comparison as Markdown: one column per scheme.
    static func markdown(_ c: MappingComparison) -> String {
        var s = "# Mapping schemes compared\n\n"
        s += "- model `\(c.model)`, preset \(c.preset ?? "-"), \(c.images) test images, layout \(c.layout.rawValue), "
            + "schedule \(c.schedule.rawValue)\n\n"
        s += "| | " + c.rows.map(\.mapping.rawValue).joined(separator: " | ") + " |\n"
        s += "|---|" + c.rows.map { _ in "---:|" }.joined() + "\n"
        func row(_ name: String, _ f: (MappingComparisonRow) -> String) { s += "| \(name) | " + c.rows.map(f).joined(separator: " | ") + " |\n" }
        for (k, entry) in OpAmpCounts().byRole.enumerated() {
            let values = c.rows.map { $0.opAmpsByRole.byRole[k].count }
            guard values.contains(where: { $0 > 0 }) else { continue }
            row("op-amps: \(entry.role)") { "\($0.opAmpsByRole.byRole[k].count)" }
        }
        row("**op-amps, total**") { "**\($0.opAmps)**" }
        row("of which conv/FC/pooling crossbars") { "\($0.crossbarOpAmps)" }
        row("analog multipliers") { "\($0.opAmpsByRole.multipliers)" }
        row("memristors") { "\($0.memristors)" }
        row("crossbar rows") { "\($0.crossbarRows)" }
        row("crossbars (tiles)") { "\($0.tiles)" }
        row("**energy per image**") { "**\(si($0.energyPerImageJoules, "J"))**" }
        row("- op-amps (quiescent)") { si($0.energy.opAmpJoules, "J") }
        row("- multipliers") { si($0.energy.multiplierJoules, "J") }
        row("- crossbar devices (V²Gt)") { si($0.energy.crossbarReadJoules, "J") }
        row("- row drivers' supply") { si($0.energy.driverJoules, "J") }
        row("- TIAs' supply") { si($0.energy.tiaJoules, "J") }
        row("- wires, DACs, ADCs") { si($0.energy.wireJoules + $0.energy.dacJoules + $0.energy.adcJoules, "J") }
        row("latency per image") { si($0.latencySeconds, "s") }
        row("top-1 on these images") { formatPercent($0.accuracy) }
        s += "\nTwo-TIA design (2 TIAs per conv/FC/pooling output, no inverters): \(c.twoTIACrossbarOpAmps) op-amps; "
            + "paper / two-TIA = \(String(format: "%.3f", c.paperOverTwoTIA)) (TIAs alone: "
            + "\(String(format: "%.3f", c.paperTIAsOverTwoTIA))).\n\n"
        s += "\"Op-amps halved\": \(c.verdict).\n"
        return s
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
        s += "| memristors | \(r.memristors) |\n| op-amps | \(r.opAmps) ("
            + r.opAmpsByRole.byRole.map { "\($0.role) \($0.count)" }.joined(separator: ", ") + ") |\n"
            + "| analog multipliers | \(r.opAmpsByRole.multipliers) |\n"
        if let digital = r.digitalOps, !digital.isEmpty {
            s += "| digital ops (ADC, function, DAC) | \(digital.count): \(digital.joined(separator: ", ")) |\n"
        }
        s += "| crossbars (tiles) | \(r.tiles), utilisation \(String(format: "%.3g", r.tileUtilisation * 100)) % |\n"
        s += "| DACs / ADCs | \(r.dacs) / \(r.adcs) |\n"
        s += "| energy per image | \(si(r.energyPerImageJoules, "J")) |\n"
        let e = r.energyBreakdownJoules
        s += "| - crossbar read (V²Gt, measured) | \(si(e.crossbarReadJoules, "J")) |\n"
        s += "| - wires and drivers (I²R) | \(si(e.wireJoules, "J")) |\n"
        s += "| - row drivers' supply (V_drv·Σ|I_r|·t − V²Gt) | \(si(e.driverJoules, "J")) |\n"
        s += "| - TIAs' supply (V_tia·Σ|I_out|·t) | \(si(e.tiaJoules, "J")) |\n| - op-amps (quiescent) | \(si(e.opAmpJoules, "J")) |\n"
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
        s += "| mapping | memristors | op-amps | of which conv/FC | TIAs | subtractors | inverters | input inverters | BN | "
            + "BN input inverters | tiles |\n"
        s += "|---|---|---|---|---|---|---|---|---|---|---|\n"
        for m in r.schemes {
            let o = m.opAmpsByRole
            s += "| \(m.mapping.rawValue) | \(m.memristors) | \(m.opAmps) | \(m.convolutionAndFCOpAmps) | \(o.tias) | "
                + "\(o.subtractors) | \(o.inverters) | \(o.inputInverters) | \(o.batchNorm) | \(o.batchNormInputInverters) | \(m.tiles) |\n"
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
        if let p = ref.observedMaxNeuronPowerWatts {
            s += "| largest power of one memristive neuron, Σ V²G of a column (ShuffleNetV2 reference: ≤ 2.8 µW) | "
                + "\(si(p, "W")) at \(ref.observedMaxNeuronPowerOp ?? "") |\n"
        }
        if let n = ref.shuffleNetLatencyInDeviceResponses {
            s += "| 137 ns (ShuffleNetV2 reference) in device responses | \(String(format: "%.0f", n)) |\n"
        }
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
