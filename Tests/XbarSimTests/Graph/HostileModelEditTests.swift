import Foundation
import Testing
@testable import XbarSim

/// Attribute edits and deletions through the project's own HDF5 writer (the issue-17 harness's
/// class that bit flips cannot reach), on the every-op test network: every edit either loads
/// and then runs (float engine and an ideal chip, which may throw but never trap) or is a
/// clean error naming the file. Loaded with `verify: false`, so the loader's own checks are
/// what is tested (with verification on, the checksum refuses every edit first).
struct HostileModelEditTests {
    enum Edit: CustomStringConvertible {
        case delete, ints([Int]), doubles([Double]), string(String)
        var description: String {
            switch self {
            case .delete: "delete"
            case .ints(let v): "ints \(v)"
            case .doubles(let v): "doubles \(v)"
            case .string(let s): "string '\(s)'"
            }
        }
    }

    static let opAttributes = ["name", "type", "inputs", "stride", "padding", "dilation", "groups", "kernel", "ceil_mode",
                               "count_include_pad", "axis", "start", "stop", "eps", "min", "max", "negative_slope", "alpha",
                               "beta", "threshold", "approximate"]
    static let rootAttributes = ["format_version", "input_shape", "num_ops", "output", "class_names", "normalization_mean",
                                 "normalization_std"]
    static let edits: [Edit] = [
        .delete, .ints([-1]), .ints([0]), .ints([1 << 40]), .ints([-1, 3]), .ints([Int.max, 1]), .ints([2, 2, 2]),
        .doubles([.nan]), .doubles([1e308]), .doubles([-1e308]), .doubles([0]), .string("bogus"), .string(""),
    ]

    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"))
    func editedModelsLoadAndRunOrFailCleanly() throws {
        let source = repositoryRoot + "/Weights/testnets/ops_v2.h5"
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let opCount = try ModelFile.load(source).graph.ops.count
        var random = RandomStream(seed: 2026, key: [17])
        var loaded = 0, refused = 0
        let image = Tensor(shape: [3, 32, 32, 1], scalars: (0..<3072).map { Float($0 % 17) / 8 - 1 })
        for k in 0..<150 {
            let onRoot = random.nextUniform() < 0.2
            let group = onRoot ? "/" : "/ops/" + ModelFile.groupName(Int(random.nextUniform() * Double(opCount)))
            let names = onRoot ? Self.rootAttributes : Self.opAttributes
            let name = names[Int(random.nextUniform() * Double(names.count)) % names.count]
            let edit = Self.edits[Int(random.nextUniform() * Double(Self.edits.count)) % Self.edits.count]
            let path = dir + "/edit\(k).h5"
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.copyItem(atPath: source, toPath: path)
            do {
                let file = try HDF5File(openingForWriting: path)
                let g = try file.group(group)
                switch edit {
                case .delete: try g.deleteAttribute(name)
                case .ints(let v): try g.setAttribute(name, ints: v, scalar: v.count == 1)
                case .doubles(let v): try g.setAttribute(name, doubles: v, scalar: v.count == 1)
                case .string(let s): try g.setAttribute(name, string: s)
                }
            }
            do {
                let model = try ModelFile.load(path, verify: false)
                loaded += 1
                // A file that loads must run without trapping; a thrown error (e.g. NaN output) is fine.
                _ = try? FloatExecutor(graph: model.graph).run(image)
                let calibration = Calibration(maxAbs: [Float](repeating: 4, count: model.graph.ops.count + 1), images: 1)
                if let chip = try? AnalogChip(graph: model.graph, config: Preset.ideal.config, seed: 0, chip: 0, inputMaxAbs: 4,
                                              calibration: calibration) {
                    _ = try? chip.run(image, firstImage: 0, threads: 1)
                }
            } catch {
                refused += 1
                let message = "\(error)"
                #expect(message.contains(path), "\(group)@\(name) \(edit): the error does not name the file: \(message)")
                #expect(!message.contains("\n"), "\(group)@\(name) \(edit): not one line: \(message)")
            }
            // With verification on, every edit that changed something is refused by the checksum.
            if case .delete = edit {} else {
                let verified = errorMessage { _ = try ModelFile.load(path) }
                #expect(verified.isEmpty || verified.contains(path), "\(verified)")
            }
        }
        #expect(loaded + refused == 150 && refused > 60, "loaded \(loaded), refused \(refused)")
    }
}
