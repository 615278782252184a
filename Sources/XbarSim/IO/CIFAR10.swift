import Foundation
import XbarSimSupport

/// An error finding or reading the CIFAR-10 dataset; the message names the file.
public struct DatasetError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// CIFAR-10 in the official binary layout (`cifar-10-binary.tar.gz`).
///
/// Each record is 1 label byte (0-9) followed by 3,072 pixel bytes: 1,024 red,
/// 1,024 green, 1,024 blue, each a row-major 32x32 plane. Files are validated by
/// structure (size a multiple of 3,073 bytes, labels 0-9), not by checksum.
public struct CIFAR10: Sendable {
    public static let recordBytes = 3_073
    public static let imageBytes = 3_072
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFiles = ["test_batch.bin"]
    public static let defaultClassNames = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]

    /// Pixels of all images, `count * imageSize` bytes, each image in CHW order (empty when
    /// the images come already normalised, `normalizedImages`).
    public var pixels: [UInt8]
    /// One label `0..<classNames.count` per image.
    public var labels: [Int]
    /// `[C, H, W]` of one image: `[3, 32, 32]` for CIFAR-10; any size for a dataset file.
    public var imageShape: [Int] = [3, 32, 32]
    /// Float32 images already normalised (a dataset file with `normalized = 1`), else nil.
    public var normalizedImages: [Float]?
    public var classNames: [String] = CIFAR10.defaultClassNames
    public var count: Int { labels.count }
    /// Values of one image (`C·H·W`).
    public var imageSize: Int { imageShape.reduce(1, *) }

    public init(pixels: [UInt8], labels: [Int]) {
        precondition(pixels.count == labels.count * Self.imageBytes)
        self.pixels = pixels
        self.labels = labels
    }

    /// Any labelled image set: `pixels` (uint8, CHW per image) or `normalizedImages`.
    public init(shape: [Int], pixels: [UInt8], normalizedImages: [Float]? = nil, labels: [Int], classNames: [String]) {
        precondition(shape.count == 3 && (normalizedImages?.count ?? pixels.count) == labels.count * shape.reduce(1, *))
        self.pixels = pixels
        self.labels = labels
        imageShape = shape
        self.normalizedImages = normalizedImages
        self.classNames = classNames
    }

    /// Images at `indices`, in that order.
    public func subset(_ indices: [Int]) -> CIFAR10 {
        let size = imageSize
        return CIFAR10(
            shape: imageShape,
            pixels: normalizedImages == nil ? indices.flatMap { pixels[($0 * size)..<(($0 + 1) * size)] } : [],
            normalizedImages: normalizedImages.map { f in indices.flatMap { f[($0 * size)..<(($0 + 1) * size)] } },
            labels: indices.map { labels[$0] }, classNames: classNames)
    }

    /// The folders searched, in order, when no `--data` is given.
    public static func candidateDirectories(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) -> [(source: String, path: String)] {
        var result: [(String, String)] = []
        if let explicit { return [("--data", explicit)] }
        if let env = environment["XBARSIM_DATA"], !env.isEmpty { result.append(("$XBARSIM_DATA", env)) }
        result.append(("default", workingDirectory + "/Datasets/cifar-10-batches-bin"))
        result.append(("default", workingDirectory + "/../shared/cifar10/cifar-10-batches-bin"))
        return result
    }

    /// Finds the dataset folder: `--data PATH`, `$XBARSIM_DATA`, `Datasets/cifar-10-batches-bin`,
    /// `../shared/cifar10/cifar-10-batches-bin`, in that order.
    public static func locate(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                              workingDirectory: String = FileManager.default.currentDirectoryPath) throws -> String {
        let candidates = candidateDirectories(explicit: explicit, environment: environment, workingDirectory: workingDirectory)
        var isDirectory: ObjCBool = false
        // A folder named on purpose (--data, $XBARSIM_DATA) must exist: no silent fallback to another one.
        if explicit == nil, let (source, path) = candidates.first, source == "$XBARSIM_DATA",
           !(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue) {
            throw DatasetError("$XBARSIM_DATA=\(path): no such directory (unset XBARSIM_DATA to use the default folders)")
        }
        for (_, path) in candidates where FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return path }
        }
        if let explicit {
            throw DatasetError("\(explicit): no such directory (given with --data)")
        }
        let tried = candidates.map { "  \($0.path) (\($0.source))" }.joined(separator: "\n")
        throw DatasetError("""
            CIFAR-10 not found. Looked in:
            \(tried)
            Fetch it with `Datasets/download-cifar10.sh` (downloads and checks the official tarball \
            into Datasets/), or pass --data PATH / set XBARSIM_DATA to a folder holding test_batch.bin.
            """)
    }

    /// Loads the 10,000-image test set from a folder.
    public static func test(in directory: String, limit: Int? = nil) throws -> CIFAR10 {
        try load(files: testFiles.map { directory + "/" + $0 }, limit: limit)
    }

    /// Loads the 50,000-image training set from a folder.
    public static func train(in directory: String, limit: Int? = nil) throws -> CIFAR10 {
        try load(files: trainFiles.map { directory + "/" + $0 }, limit: limit)
    }

    /// Loads and validates binary batch files, stopping after `limit` images.
    public static func load(files: [String], limit: Int? = nil) throws -> CIFAR10 {
        var pixels: [UInt8] = []
        var labels: [Int] = []
        for path in files {
            if let limit, labels.count >= limit { break }
            if FileManager.default.fileExists(atPath: path), !isRegularFile(path) {
                throw DatasetError("\(path): not a regular file (a FIFO or device cannot be a CIFAR-10 batch)")
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DatasetError("\(path): missing or unreadable CIFAR-10 file (fetch with Datasets/download-cifar10.sh)")
            }
            guard !data.isEmpty, data.count % recordBytes == 0 else {
                throw DatasetError(
                    "\(path): \(data.count) bytes is not a positive multiple of \(recordBytes) "
                        + "(truncated, or not a CIFAR-10 binary batch)")
            }
            let records = data.count / recordBytes
            let take = limit.map { min(records, $0 - labels.count) } ?? records
            pixels.reserveCapacity(pixels.count + take * imageBytes)
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                let bytes = raw.bindMemory(to: UInt8.self)
                for r in 0..<take {
                    let base = r * recordBytes
                    let label = Int(bytes[base])
                    guard label <= 9 else {
                        throw DatasetError("\(path): record \(r) has label \(label) (expected 0-9); not a CIFAR-10 file?")
                    }
                    labels.append(label)
                    pixels.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[(base + 1)..<(base + recordBytes)]))
                }
            }
        }
        return CIFAR10(pixels: pixels, labels: labels)
    }

    /// Class names from `batches.meta.txt` when present, else the official names.
    public static func classNames(in directory: String) -> [String] {
        guard isRegularFile(directory + "/batches.meta.txt"),
              let text = try? String(contentsOfFile: directory + "/batches.meta.txt", encoding: .utf8) else {
            return defaultClassNames
        }
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        return names.count == 10 ? names : defaultClassNames
    }

    /// Pixels of images `range`, scaled to 0..1 and normalised per channel,
    /// written into `output` in XbarSim's activation layout: `[channel][row][column][image]`.
    public func normalizedBatch(
        _ range: Range<Int>, mean: [Float], std: [Float], into output: UnsafeMutableBufferPointer<Float>
    ) {
        let n = range.count
        let channels = imageShape[0]
        let plane = imageShape[1] * imageShape[2]
        let size = imageSize
        precondition(mean.count == channels && std.count == channels && output.count == channels * n * plane)
        if let floats = normalizedImages {
            for c in 0..<channels {
                for (j, image) in range.enumerated() {
                    let src = image * size + c * plane
                    let dst = c * plane * n + j
                    for k in 0..<plane { output[dst + k * n] = floats[src + k] }
                }
            }
            return
        }
        pixels.withUnsafeBufferPointer { px in
            for c in 0..<channels {
                let scale = 1 / (255 * std[c])
                let shift = -mean[c] / std[c]
                for (j, image) in range.enumerated() {
                    let src = image * size + c * plane
                    let dst = c * plane * n + j
                    for k in 0..<plane { output[dst + k * n] = Float(px[src + k]) * scale + shift }
                }
            }
        }
    }
}
