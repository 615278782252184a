import Foundation

let ngspiceLock = NSLock()

/// Runs stock ngspice in batch mode (`ngspice -b file.cir`) and reads its results.
public struct Ngspice: Sendable {
    /// Path of the `ngspice` executable.
    public var executable: String

    public init(executable: String) { self.executable = executable }

    /// `explicit` (e.g. `--ngspice PATH`) if given, else `ngspice` on `$PATH`.
    public static func locate(explicit: String? = nil) throws(SpiceError) -> Ngspice {
        let fm = FileManager.default
        if let explicit {
            guard fm.isExecutableFile(atPath: explicit) else { throw .ngspiceNotFound(searched: explicit) }
            return Ngspice(executable: explicit)
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/ngspice"
            if fm.isExecutableFile(atPath: candidate) { return Ngspice(executable: candidate) }
        }
        throw .ngspiceNotFound(searched: "$PATH (\(path))")
    }

    /// Writes `netlist` to `path`, runs ngspice on it and returns the saved vectors of
    /// every operating point (one dictionary per `op`, keys as ngspice names them).
    public func run(_ netlist: SpiceNetlist, path: String) throws(SpiceError) -> [[String: Double]] {
        let rawURL = try netlist.write(to: path)
        try? FileManager.default.removeItem(at: rawURL)  // the control block appends
        let output = try execute(file: path)
        let text: String
        do {
            text = try String(contentsOf: rawURL, encoding: .utf8)
        } catch {
            throw .rejected(file: path, message: "no results written. " + Self.errorLines(output))
        }
        let points = try Self.parseRaw(text, file: path)
        guard points.count == netlist.pointCount else {
            throw .rejected(file: path, message: "\(points.count) of \(netlist.pointCount) operating points solved. "
                            + Self.errorLines(output))
        }
        return points
    }

    /// Runs `ngspice -b file` in the file's folder; returns its output (stdout and stderr).
    public func execute(file path: String) throws(SpiceError) -> String {
        let url = URL(fileURLWithPath: path)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("xbarsim-ngspice-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-b", url.lastPathComponent]
        process.currentDirectoryURL = url.deletingLastPathComponent()
        let output: String
        do {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            // Foundation's Process is not safe to launch and wait on from several threads at
            // once (swift-corelibs-foundation traps with an access conflict): one run at a time.
            ngspiceLock.lock()
            defer { ngspiceLock.unlock() }
            try process.run()
            process.waitUntilExit()
            try handle.close()
            output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        } catch {
            throw .ngspiceNotFound(searched: "\(executable) (\(error.localizedDescription))")
        }
        let failed = output.range(of: "simulation(s) aborted") != nil || output.range(of: "Error") != nil
            || output.range(of: "error on line", options: .caseInsensitive) != nil
        if process.terminationStatus != 0 || failed {
            throw .rejected(file: path, message: Self.errorLines(output)
                            + (process.terminationStatus != 0 ? " (exit status \(process.terminationStatus))" : ""))
        }
        return output
    }

    /// The lines of ngspice's output that explain a failure (errors, aborted analyses,
    /// singular matrices), else its last lines.
    static func errorLines(_ output: String) -> String {
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let keys = ["error", "abort", "singular", "could not", "can't", "unknown", "not found", "fail"]
        var picked: [String] = []
        for (i, line) in lines.enumerated() where keys.contains(where: { line.lowercased().contains($0) }) {
            picked.append(line)
            if line.lowercased().hasPrefix("error on line"), i + 1 < lines.count { picked.append(lines[i + 1]) }
            if picked.count >= 6 { break }
        }
        if picked.isEmpty { picked = Array(lines.suffix(4)) }
        var seen = Set<String>()
        return "'" + picked.filter { seen.insert($0).inserted }.joined(separator: " | ") + "'"
    }

    /// Parses an ASCII raw file holding one or more plots of one point each.
    public static func parseRaw(_ text: String, file: String) throws(SpiceError) -> [[String: Double]] {
        var points: [[String: Double]] = []
        var names: [String] = []
        var expected = 0
        var inVariables = false
        var values: [Double] = []
        var inValues = false
        func finish() throws(SpiceError) {
            guard inValues else { return }
            // First token of the point is its index.
            guard values.count == names.count + 1 else {
                throw .badOutput(file: file, message: "a plot has \(values.count - 1) values for \(names.count) variables")
            }
            var point: [String: Double] = [:]
            for (k, name) in names.enumerated() { point[name] = values[k + 1] }
            points.append(point)
            inValues = false
            values = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("Title:") {
                try finish()
                names = []
                inVariables = false
            } else if line.hasPrefix("No. Variables:") {
                expected = Int(line.dropFirst("No. Variables:".count).trimmingCharacters(in: .whitespaces)) ?? 0
            } else if line.hasPrefix("No. Points:") {
                let n = Int(line.dropFirst("No. Points:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                guard n == 1 else { throw .badOutput(file: file, message: "expected operating points, got a plot of \(n) points") }
            } else if line.hasPrefix("Variables:") {
                inVariables = true
            } else if line.hasPrefix("Values:") {
                inVariables = false
                inValues = true
                guard names.count == expected else {
                    throw .badOutput(file: file, message: "\(names.count) variables listed, header says \(expected)")
                }
            } else if inVariables {
                let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if parts.count >= 2 { names.append(String(parts[1]).lowercased()) }
            } else if inValues {
                for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }) {
                    guard let v = Double(token) else {
                        throw .badOutput(file: file, message: "cannot read value '\(token)'")
                    }
                    values.append(v)
                }
            }
        }
        try finish()
        return points
    }
}

extension SpiceNetlist {
    /// Writes the netlist to `path`; its control block writes results to the file of the
    /// same name with extension `.raw` in the same folder (returned). `ngspice -b path` runs it.
    @discardableResult
    public func write(to path: String) throws(SpiceError) -> URL {
        let url = URL(fileURLWithPath: path)
        let raw = url.deletingPathExtension().lastPathComponent + ".raw"
        do {
            try text(rawFile: raw).write(to: url, atomically: true, encoding: .utf8)
        } catch {
            throw .rejected(file: path, message: "cannot write the netlist: \(error.localizedDescription)")
        }
        return url.deletingLastPathComponent().appendingPathComponent(raw)
    }
}
