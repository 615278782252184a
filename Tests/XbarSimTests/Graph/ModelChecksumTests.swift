import Foundation
import Testing
@testable import XbarSim

/// Model-file integrity: the exporter's SHA-256 (`Weights/FORMAT.md`, "Checksum") is checked on load.
struct ModelChecksumTests {
    @Test func exportedFilesVerifyAndAnyChangedFieldIsCaught() throws {
        // Written by the Python exporter: Swift computes the same canonical digest.
        for name in ["ops_v2", "vgg_tiny", "resnet20_tiny"] {
            #expect(try ModelFile.load(repositoryRoot + "/Weights/testnets/\(name).h5").integrity == .verified)
        }
        #expect(try ModelFile.load(defaultModelPath).integrity == .verified)

        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = repositoryRoot + "/Weights/testnets/vgg_tiny.h5"
        // One attribute changed in place (a BN eps exponent, a normalisation mean's sign, a class name).
        let edits: [(String, String, (HDF5Group, String) throws -> Void)] = [
            ("/ops/0001", "eps", { g, k in try g.setAttribute(k, doubles: [1e-3], scalar: true) }),
            ("/", "normalization_mean", { g, k in try g.setAttribute(k, doubles: [-0.4914, 0.4822, 0.4465]) }),
            ("/", "class_names", { g, k in
                try g.setAttribute(k, strings: ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "trucks"])
            }),
        ]
        for (k, (group, attribute, edit)) in edits.enumerated() {
            let path = dir + "/edit\(k).h5"
            try FileManager.default.copyItem(atPath: source, toPath: path)
            do {
                let file = try HDF5File(openingForWriting: path)
                try edit(try file.group(group), attribute)
            }
            let message = errorMessage { _ = try ModelFile.load(path) }
            // A change that breaks the graph is reported as a checksum mismatch first, too.
            #expect(message.contains("/@checksum") && message.contains("changed or corrupted"), "\(attribute): \(message)")
            let loaded = try ModelFile.load(path, verify: false)
            guard case .mismatchIgnored = loaded.integrity else {
                Issue.record("\(attribute): expected a reported mismatch, got \(loaded.integrity)")
                continue
            }
            #expect(loaded.integrity.warning(file: path)?.contains("does NOT match") == true)
        }
    }

    @Test func swiftWrittenFilesCarryAChecksumAndOldFilesLoadWithAWarning() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/tiny.h5"
        try ModelFile.write(tinyModel(), to: path)
        #expect(try ModelFile.load(path).integrity == .verified)
        let raw = dir + "/raw.h5"
        try writeRawModel(raw, ops: validRawOps())
        let old = try ModelFile.load(raw)
        #expect(old.integrity == .unchecked)
        #expect(old.integrity.warning(file: raw)?.contains("no checksum") == true)
    }
}

extension ModelChecksumTests {
    @Test func aShapeChangingEditIsReportedAsAChecksumMismatch() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/stride.h5"
        try FileManager.default.copyItem(atPath: repositoryRoot + "/Weights/testnets/vgg_tiny.h5", toPath: path)
        do {
            let file = try HDF5File(openingForWriting: path)
            try file.group("/ops/0000").setAttribute("stride", ints: [1, 2])
        }
        #expect(errorMessage { _ = try ModelFile.load(path) }.contains("/@checksum"))
    }
}
