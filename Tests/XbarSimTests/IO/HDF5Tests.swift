import Foundation
import Testing
@testable import XbarSim

struct HDF5Tests {
    @Test func datasetsAndAttributesRoundTrip() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/t.h5"
        do {
            let file = try HDF5File(creating: path)
            let root = try file.root()
            try root.setAttribute("title", string: "crossbar ünï")
            try root.setAttribute("names", strings: ["a", "bc", ""])
            try root.setAttribute("shape", ints: [3, 32, 32])
            try root.setAttribute("count", ints: [7], scalar: true)
            try root.setAttribute("eps", doubles: [1e-3], scalar: true)
            let g = try root.createGroup("ops")
            try g.write("w", shape: [2, 3], floats: [1, 2, 3, 4, 5, -6.5])
            try g.write("idx", shape: [4], ints: [0, 1, -2, Int64.max])
        }
        let file = try HDF5File(readingFrom: path)
        let root = try file.root()
        #expect(try root.string("title") == "crossbar ünï")
        #expect(try root.strings("names") == ["a", "bc", ""])
        #expect(try root.ints("shape") == [3, 32, 32])
        #expect(try root.int("count") == 7)
        #expect(try root.double("eps") == 1e-3)
        #expect(try root.doubles("count") == [7])   // integers read as reals
        let w = try file.group("/ops").readFloats("w")
        #expect(w.shape == [2, 3] && w.values == [1, 2, 3, 4, 5, -6.5])
        #expect(try file.group("/ops").readInts("idx").values == [0, 1, -2, Int64.max])
        #expect(root.contains("ops") && !root.contains("nope"))
    }

    @Test func errorsNameFileAndObject() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/t.h5"
        do {
            let root = try HDF5File(creating: path).root()
            try root.setAttribute("title", string: "x")
            try root.createGroup("ops").write("w", shape: [1], floats: [1])
        }
        let root = try HDF5File(readingFrom: path).root()
        let missing = errorMessage { _ = try root.string("nope") }
        #expect(missing == "\(path): /@nope: attribute is missing")
        let wrongType = errorMessage { _ = try root.ints("title") }
        #expect(wrongType.contains("/@title") && wrongType.contains("expected a integer attribute, found string"))
        let noDataset = errorMessage { _ = try root.group("ops").readFloats("b") }
        #expect(noDataset == "\(path): /ops/b: dataset is missing")
        let noGroup = errorMessage { _ = try HDF5File(readingFrom: path).group("/golden") }
        #expect(noGroup == "\(path): /golden: group is missing")
    }

    @Test func nonHDF5AndMissingFilesAreRejected() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = dir + "/notes.h5"
        try "not hdf5".write(toFile: text, atomically: true, encoding: .utf8)
        #expect(errorMessage { _ = try HDF5File(readingFrom: text) } == "\(text): /: not an HDF5 file, or it cannot be read")
        let missing = dir + "/missing.h5"
        #expect(errorMessage { _ = try HDF5File(readingFrom: missing) } == "\(missing): /: not an HDF5 file, or it cannot be read")
        // A real file cut short keeps its signature: named as truncated, not a crash.
        let whole = dir + "/whole.h5"
        do {   // closed (and flushed) at the end of the scope
            let file = try HDF5File(creating: whole)
            try file.root().write("w", shape: [4096], floats: [Float](repeating: 1, count: 4096))
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        let cut = dir + "/cut.h5"
        try bytes.prefix(1000).write(to: URL(fileURLWithPath: cut))
        #expect(errorMessage { _ = try HDF5File(readingFrom: cut) }
            == "\(cut): /: has an HDF5 signature but cannot be opened (truncated or corrupt copy?)")
    }
}
