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
        for path in shippedModelPaths { #expect(try ModelFile.load(path).integrity == .verified, "\(path)") }

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

extension ModelChecksumTests {
    /// The optional `training_noise` attribute (hardware-aware training) round-trips and is
    /// covered by the checksum; files without it keep their digest.
    @Test func trainingNoiseRoundTripsAndIsChecksummed() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var model = tinyModel()
        let noise = #"{"levels": 64, "read_noise": 0.02, "variation": 0.05}"#
        model.metadata.provenance.trainingNoise = noise
        let path = dir + "/hwa.h5"
        try ModelFile.write(model, to: path)
        let loaded = try ModelFile.load(path)
        #expect(loaded.integrity == .verified)
        #expect(loaded.metadata.provenance.trainingNoise == noise)

        // Without the attribute the digest is that of the same file never having had it.
        let plain = dir + "/plain.h5"
        try ModelFile.write(tinyModel(), to: plain)
        #expect(try ModelFile.load(plain).metadata.provenance.trainingNoise == "")
        let digest = { (p: String) throws -> String in try HDF5File(readingFrom: p).root().string("checksum") }
        #expect(try digest(plain) != digest(path))

        // Editing the recorded noise is caught.
        do {
            let file = try HDF5File(openingForWriting: path)
            try file.root().setAttribute("training_noise", string: #"{"levels": 64, "read_noise": 0.0, "variation": 0.05}"#)
        }
        let message = errorMessage { _ = try ModelFile.load(path) }
        #expect(message.contains("/@checksum") && message.contains("changed or corrupted"), "\(message)")
    }
}
