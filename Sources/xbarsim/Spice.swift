import ArgumentParser
import Foundation
import XbarSim

extension XbarSimCommand {
    struct Spice: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write SPICE netlists that stock ngspice runs; --check runs ngspice and compares with the engine.",
            discussion: """
                One of: --tile RxC alone (a random tile of that size, wires from --wire-resistance), --op NAME|INDEX|all (that op of the \
                programmed chip for test image --image K: its crossbars' physical tiles, with the chip's wires and tiling, \
                or its module circuits, \
                driven by the engine's activations), --modules (every module circuit swept over its input range). \
                Netlists go to --out (a .cir file for one netlist, else a folder); `ngspice -b FILE` runs each. \
                Circuits and error definitions: docs/spice.md.
                """)

        @Option(parsing: .unconditional, help: ArgumentHelp("Op of the model to write (name or index), or 'all'.", valueName: "name|index|all"))
        var op: String?

        @Flag(help: "Sweep every module circuit (BN, activations, multiply, add, GAP, FC) over its input range.")
        var modules = false

        @Option(parsing: .unconditional, help: ArgumentHelp("Test-set image whose activations drive --op.", valueName: "k"))
        var image: Int = 0

        @Option(parsing: .unconditional, help: ArgumentHelp("--op: first N output channels (or 'all').", valueName: "n|all"))
        var channels: String = "4"

        @Option(parsing: .unconditional, help: ArgumentHelp("--op: output positions per channel, evenly spaced (or 'all').", valueName: "n|all"))
        var positions: String = "2"

        @Option(parsing: .unconditional, help: ArgumentHelp("--tile: input vectors (operating points).", valueName: "n"))
        var batch: Int = 1

        @Option(parsing: .unconditional, help: ArgumentHelp("--modules: points per sweep.", valueName: "n"))
        var points: Int = 41

        @Option(help: ArgumentHelp("Netlist file (one netlist) or folder.", valueName: "path"))
        var out: String?

        @Flag(help: "Run ngspice on the netlists and print the error table against the engine.")
        var check = false

        @Option(help: ArgumentHelp("ngspice executable (default: ngspice on $PATH).", valueName: "path"))
        var ngspice: String?

        @Flag(help: "Print one JSON object (maxRelativeError, items with per-item errors).")
        var json = false

        @Option(parsing: .unconditional, help: ArgumentHelp("Seed of the chip's programming and of --tile's random values.", valueName: "n"))
        var seed: UInt64 = 0

        @OptionGroup var common: ModelOptions

        @OptionGroup(title: "Simulated chip") var chip: ChipOptions

        func validate() throws {
            guard !(op != nil && modules) else { throw ValidationError("give one of --op NAME|INDEX|all and --modules") }
            guard batch > 0 else { throw ValidationError("--batch: must be positive, got \(batch)") }
            guard points >= 2 else { throw ValidationError("--points: must be at least 2, got \(points)") }
            guard image >= 0 else { throw ValidationError("--image: must be >= 0, got \(image)") }
            try usage {
                try CommandLimits.check(batch, CommandLimits.tileBatch, flag: "--batch")
                try CommandLimits.check(points, CommandLimits.modulePoints, flag: "--points")
                try CommandLimits.check(image, CommandLimits.imageIndex, flag: "--image")
            }
            if op == nil, !modules {
                guard let tile = chip.tile, TileSize(argument: tile) != .unlimited else {
                    throw ValidationError("give --tile RxC (a random tile), --op NAME|INDEX|all or --modules")
                }
                try usage {
                    let (r, c) = try CommandLimits.parseTile(tile, flag: "--tile")
                    // --check solves the tile with the exact solver when its wires are not ideal.
                    let exact = try check && !chip.config().circuit.wires.isIdeal
                    try CommandLimits.checkTile(rows: r, columns: c, batch: batch, exactSolver: exact, flag: "--tile")
                }
            }
            _ = try count(channels, flag: "--channels")
            _ = try count(positions, flag: "--positions")
            guard !modules || check else { throw ValidationError("--modules compares with the engine: add --check") }
        }

        func parseTile(_ text: String) -> (Int, Int)? {
            let parts = text.lowercased().split(separator: "x")
            guard parts.count == 2, let r = Int(parts[0]), let c = Int(parts[1]), r > 0, c > 0 else { return nil }
            return (r, c)
        }

        func count(_ text: String, flag: String) throws -> Int? {
            if text == "all" { return nil }
            guard let n = Int(text), n > 0 else { throw ValidationError("\(flag): expected a positive number or 'all', got '\(text)'") }
            try usage { try CommandLimits.check(n, CommandLimits.selection, flag: flag) }
            return n
        }

        func run() throws {
            let config = try chip.uncalibratedConfig(command: "spice", netlists: true)
            let runner: Ngspice? = check ? try Ngspice.locate(explicit: ngspice) : nil
            let tile = op == nil && !modules ? chip.tile : nil
            let single = tile != nil
            let directory: String
            var singleFile: String?
            if single, let out, out.hasSuffix(".cir") {
                singleFile = out
                directory = URL(fileURLWithPath: out).deletingLastPathComponent().path
            } else {
                directory = out ?? (check ? NSTemporaryDirectory() + "xbarsim-spice-\(UUID().uuidString)" : "spice")
            }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var items: [SpiceCheckItem] = []
            var written: [String] = []

            if let tile, let (rows, columns) = parseTile(tile) {
                // A random tile (--tile RxC without --op or --modules).
                let wires = config.circuit.wires
                let (circuit, volts) = SpiceCheck.randomTile(
                    rows: rows, columns: columns, wires: wires, openLoopGain: config.periphery.opAmp.openLoopGain,
                    gMinSiemens: config.device.window.gMinSiemens, gMaxSiemens: config.device.window.gMaxSiemens,
                    inputVolts: config.periphery.inputVoltageVolts, batch: batch, seed: seed)
                let path = singleFile ?? "\(directory)/tile-\(rows)x\(columns).cir"
                if let runner {
                    // The engine's solution of the tile: the exact nodal solver (ideal wires: the closed form).
                    let exact: TileReference = { c, v, n in
                        let solution = try ExactTileSolver(c).solve(inputVolts: v, batch: n)
                        return (solution.columnCurrentsAmps, solution.outputVolts)
                    }
                    let reference = wires.isIdeal ? TileReferences.ideal : exact
                    items += try SpiceCheck.tile(circuit, inputVolts: volts, batch: batch, railVolts: config.periphery.opAmp.railVolts,
                                                 name: "tile \(rows)x\(columns), wires \(wires.rowWireResistanceOhms)/\(wires.columnWireResistanceOhms) ohm vs "
                                                     + (wires.isIdeal ? "closed form" : "exact solver"), reference: reference,
                                                 ngspice: runner, path: path)
                } else {
                    let netlist = TileNetlist(circuit, inputVolts: volts, batch: batch, railVolts: config.periphery.opAmp.railVolts)
                    try netlist.netlist.write(to: path)
                }
                written.append(path)
            } else {
                var settings = EvaluationSettings()
                settings.modelPath = common.model
                settings.dataDirectory = common.data
                settings.limit = op == nil ? 1 : image + 1
                settings.threads = common.threads
                let inputs = try EvaluationInputs(settings: settings)
                // The op and image are checked before the chip is calibrated and programmed.
                var indices: [Int] = []
                if let op {
                    let graph = inputs.model.graph
                    if op == "all" {
                        indices = Array(graph.ops.indices)
                    } else if let i = Int(op) {
                        guard graph.ops.indices.contains(i) else {
                            throw ValidationError("--op: index \(i) out of range 0..<\(graph.ops.count) (see xbarsim info)")
                        }
                        indices = [i]
                    } else if let i = graph.ops.firstIndex(where: { $0.name == op }) {
                        indices = [i]
                    } else {
                        throw ValidationError("--op: no op named '\(op)' in \(inputs.model.path) (see xbarsim info)")
                    }
                    guard image < inputs.dataset.count else {
                        throw ValidationError("--image: \(image) is beyond the test set (\(inputs.dataset.count) images)")
                    }
                }
                let calibration = try Evaluation.calibrate(inputs, images: config.calibrationImages, threads: common.threads)
                let analogChip = try AnalogChip(graph: inputs.model.graph, config: config, seed: seed, chip: 0,
                                            inputMaxAbs: Evaluation.inputMaxAbs(inputs.model.metadata), calibration: calibration)
                if modules {
                    guard let runner else {
                        throw ValidationError("--modules compares with the engine: add --check")
                    }
                    items += try ModuleCheck.run(config: config, voltsPerUnit: analogChip.voltsPerUnit, points: points, seed: seed,
                                                 ngspice: runner, directory: directory)
                    written.append(directory)
                } else if op != nil {
                    let graph = inputs.model.graph
                    let selection = LayerSelection(channels: try count(channels, flag: "--channels"),
                                                   positions: try count(positions, flag: "--positions"))
                    let batch = inputs.batch(image..<(image + 1))
                    if let runner {
                        items += try SpiceCheck.ops(chip: analogChip, ops: indices, image: batch, firstImage: image,
                                                    selection: selection, ngspice: runner, directory: directory,
                                                    threads: common.threads)
                        written.append(directory)
                    } else {
                        for i in indices {
                            if case .flatten = analogChip.stages[i] { continue }
                            let layer = try LayerNetlist(chip: analogChip, op: i, image: batch, firstImage: image,
                                                         selection: selection, threads: common.threads)
                            let path = "\(directory)/op\(i)-\(graph.ops[i].name.replacingOccurrences(of: "/", with: "_")).cir"
                            try layer.netlist.write(to: path)
                            written.append(path)
                        }
                    }
                }
            }
            guard check else {
                for path in written { print("wrote \(path)") }
                return
            }
            let report = SpiceCheckReport(items: items, ngspice: runner?.executable ?? "")
            if json { return try printJSON(report) }
            print("netlists in \(directory) (ngspice: \(report.ngspice))")
            print("item".padding(toLength: 44, withPad: " ", startingAt: 0) + "quantity".padding(toLength: 22, withPad: " ", startingAt: 0)
                  + "values   rel. error    max abs       seconds")
            for item in items {
                print(item.name.padding(toLength: 44, withPad: " ", startingAt: 0)
                      + item.quantity.padding(toLength: 22, withPad: " ", startingAt: 0)
                      + String(format: "%6d   %.3e   %.3e   %7.2f", item.values, item.relativeError, item.maxAbsoluteError, item.seconds))
            }
            print(String(format: "max relative error %.3e", report.maxRelativeError))
        }
    }
}
