import Foundation
import Testing
@testable import XbarSim

/// Corrupt HDF5 metadata is an error naming the file, never a crash inside libhdf5.
struct HDF5IntegrityTests {
    /// A copy of the model with one bit flipped in the size of a variable-length string held
    /// in a global heap collection (the fuzzer's SIGSEGV in `H5HG_read`).
    @Test func corruptGlobalHeapObjectSizeIsAnError() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: defaultModelPath)))
        let signature = Array("GCOL".utf8)
        let p = try #require((0..<(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == signature })
        bytes[p + 16 + 8 + 5] ^= 0x40     // first object's size: + 2^46
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/flipped.h5"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let message = errorMessage { _ = try ModelFile.load(path) }
        #expect(message.contains(path) && message.contains("corrupt global heap collection at byte \(p)"), "\(message)")
    }

    @Test func oversizedCollectionIsAnError() throws {
        var bytes = [UInt8](repeating: 0, count: 64)
        bytes.replaceSubrange(0..<5, with: Array("GCOL".utf8) + [1])
        bytes[8] = 0xff; bytes[9] = 0xff   // 65,535 bytes declared in a 64-byte file
        let message = errorMessage { try HDF5GlobalHeapCheck.verify(Data(bytes), path: "x.h5") }
        #expect(message.contains("corrupt global heap collection at byte 0"), "\(message)")
        try HDF5GlobalHeapCheck.verify(Data(repeating: 0, count: 100), path: "x.h5")
    }

    /// A reader that dies of a signal, or never finishes, makes the file an error naming it.
    @Test func childThatCrashesOrHangsRefusesTheFile() throws {
        let crash = errorMessage {
            try HDF5File.childCheck(path: "m.h5", executable: "/bin/sh", arguments: ["-c", "kill -SEGV $$"])
        }
        #expect(crash.hasPrefix("m.h5: /: corrupt HDF5 file: the HDF5 library crashed reading it (signal 11)"), "\(crash)")
        let hang = errorMessage {
            try HDF5File.childCheck(path: "m.h5", executable: "/bin/sh", arguments: ["-c", "exec sleep 30"], timeout: 0.5)
        }
        #expect(hang.contains("did not finish"), "\(hang)")
        // An ordinary failure passes: the caller's own read reports it.
        try HDF5File.childCheck(path: "m.h5", executable: "/bin/sh", arguments: ["-c", "exit 1"])
    }
}
