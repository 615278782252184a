import Foundation
import Testing
@testable import XbarSim

/// Two sweeps on one `--out`: the second is refused while the first holds the folder's lock.
@Suite(.serialized)
struct SweepLockTests {
    @Test func lockIsExclusiveAndReleased() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try SweepLock(directory: dir)
        let message = errorMessage { _ = try SweepLock(directory: dir) }
        #expect(message.contains("another xbarsim sweep is writing to this folder (process \(getpid()))"), "\(message)")
        first.release()
        let second = try SweepLock(directory: dir)
        second.release()
    }

    @Test(.enabled(if: xbarsimBinary != nil && sharedDataDirectory != nil, "needs the xbarsim binary and ../shared/cifar10"))
    func secondProcessOnTheSameFolderIsRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let arguments = ["sweep", "--vary", "variation=0,0.05", "--images", "2", "--batch", "2", "--calibration-images", "2",
                         "--threads", "1", "--quiet", "--data", try #require(sharedDataDirectory), "--out", dir]
        // Process 1 (this test) holds the folder, as a running sweep does.
        let holder = try SweepLock(directory: dir)
        let refused = try runXbarsim(arguments)
        #expect(refused.status != 0 && !refused.signalled)
        #expect(refused.stderr.contains("another xbarsim sweep is writing to this folder"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/points.jsonl"), "the refused run wrote points")
        holder.release()

        // Two child processes at once: exactly one runs the points, the other is refused.
        func start() throws -> (Process, Pipe) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try #require(xbarsimBinary))
            p.arguments = arguments
            p.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            return (p, err)
        }
        let (a, aErr) = try start()
        let (b, bErr) = try start()
        let aText = String(decoding: aErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let bText = String(decoding: bErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        a.waitUntilExit()
        b.waitUntilExit()
        let statuses = [a.terminationStatus, b.terminationStatus]
        let lines = ((try? String(contentsOfFile: dir + "/points.jsonl", encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(lines.count == 2, "points.jsonl has \(lines.count) lines")
        if statuses.contains(where: { $0 != 0 }) {
            #expect(statuses.filter { $0 == 0 }.count == 1, "\(aText)\n\(bText)")
            #expect((aText + bText).contains("another xbarsim sweep is writing to this folder"), "\(aText)\n\(bText)")
        }
        // (Both may succeed when the first finishes before the second starts; the second then resumes with nothing to do.)
    }
}
