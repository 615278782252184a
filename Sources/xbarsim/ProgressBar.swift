import Foundation
import XbarSim

/// A one-line progress bar with rate and ETA, drawn on stderr only when it is a terminal.
final class ProgressBar {
    let label: String
    let enabled: Bool

    init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled && isatty(STDERR_FILENO) != 0
    }

    func update(_ p: EvaluationProgress) {
        guard enabled, p.imagesTotal > 0 else { return }
        let fraction = Double(p.imagesDone) / Double(p.imagesTotal)
        let width = 30
        let filled = Int(fraction * Double(width))
        let rate = Double(p.imagesDone) / max(p.secondsElapsed, 1e-9)
        let eta = rate > 0 ? Double(p.imagesTotal - p.imagesDone) / rate : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let line = String(format: "\r%@ [%@] %d/%d images  %.0f img/s  ETA %.0fs ", label, bar,
                          p.imagesDone, p.imagesTotal, rate, eta)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}
