import Foundation
@testable import XbarSim

/// The debug `xbarsim` binary `swift build` puts next to the tests, if there is one.
let xbarsimBinary: String? = {
    let candidates = [
        Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("debug/xbarsim").path,
        repositoryRoot + "/.build/debug/xbarsim",
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// What a finished child process left.
struct ChildResult {
    var status: Int32
    var signalled: Bool
    var stdout: String
    var stderr: String
}

/// Runs `xbarsim arguments` from the repository root and waits for it.
func runXbarsim(_ arguments: [String], environment: [String: String]? = nil) throws -> ChildResult {
    guard let binary = xbarsimBinary else { throw DatasetError("no xbarsim binary") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    p.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
    if let environment { p.environment = environment }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    // Read both pipes while the child runs (a full pipe would block it).
    let errBox = UncheckedBox<Data>(Data())
    let reader = Thread { errBox.value = err.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while !reader.isFinished { usleep(1_000) }
    return ChildResult(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                       stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: errBox.value, as: UTF8.self))
}

final class UncheckedBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
