import Foundation
import XbarSimIO
import XbarSimTensor

/// Per-image results of an evaluation (`xbarsim eval --predictions FILE.csv`): for the float
/// engine and every chip, each image's label, predicted class and logits, so a run can be
/// compared with PyTorch image by image. Safe to fill from several batches at once.
public final class PredictionLog: @unchecked Sendable {
    public struct Row: Sendable, Equatable {
        /// `float`, or the chip number.
        public var source: String
        public var image: Int
        public var label: Int
        public var predicted: Int
        public var logits: [Float]
    }

    private let lock = NSLock()
    private var stored: [Row] = []

    public init() {}

    /// Records a batch: `logits` is `[classes, N]` for test images `first..<first + N`.
    public func add(source: String, first: Int, logits: Tensor, labels: [Int]) {
        let (k, n) = (logits.shape[0], logits.shape[1])
        let predicted = Evaluation.predictions(logits)
        var rows: [Row] = []
        rows.reserveCapacity(n)
        for j in 0..<n {
            rows.append(Row(source: source, image: first + j, label: labels[first + j], predicted: predicted[j],
                            logits: (0..<k).map { logits.scalars[$0 * n + j] }))
        }
        lock.lock()
        stored += rows
        lock.unlock()
    }

    /// Rows sorted by source (float first, then chips in order) and image.
    public var rows: [Row] {
        lock.lock()
        defer { lock.unlock() }
        func rank(_ s: String) -> Int { s == "float" ? -1 : Int(s) ?? Int.max }
        return stored.sorted { (rank($0.source), $0.image) < (rank($1.source), $1.image) }
    }

    /// CSV text: `chip,image,label,predicted,logit_0,...` (`chip` is `float` or the chip number);
    /// logits with 9 significant digits (float32 round-trips).
    public func csv() -> String {
        let rows = self.rows
        let k = rows.first?.logits.count ?? 0
        var out = "chip,image,label,predicted" + (0..<k).map { ",logit_\($0)" }.joined() + "\n"
        for r in rows {
            out += "\(r.source),\(r.image),\(r.label),\(r.predicted)"
            for v in r.logits { out += "," + String(format: "%.9g", Double(v)) }
            out += "\n"
        }
        return out
    }

    /// Writes `csv()` to `path`; the error names the file.
    public func write(to path: String) throws {
        do {
            try csv().write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw DatasetError("\(path): cannot write the predictions (\(error.localizedDescription))")
        }
    }
}
