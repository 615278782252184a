import Foundation

/// XbarSim labelled-image files (`Datasets/FORMAT.md`): any image size, 1 or 3 channels,
/// any number of classes, with an optional training split for calibration.
public enum LabelledImageFile {
    public static let formatName = "xbarsim-dataset"
    public static let formatVersion = 1

    public enum Split: String, Sendable {
        case test = "images"
        case train = "train_images"
        var labels: String { self == .test ? "labels" : "train_labels" }
    }

    /// True when `path` names a file (not a folder), so `--data` means a dataset file.
    public static func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// Loads one split, the first `limit` images of it. Errors name the file and field.
    public static func load(_ path: String, split: Split = .test, limit: Int? = nil) throws -> CIFAR10 {
        let file = try HDF5File(readingFrom: path)
        let root = try file.root()
        func fail(_ field: String, _ message: String) -> DatasetError { DatasetError("\(path): \(field) \(message)") }
        guard root.hasAttribute("format"), try root.string("format") == formatName else {
            throw fail("/@format", "is missing or not '\(formatName)' (not an XbarSim dataset file; see Datasets/FORMAT.md)")
        }
        let version = try root.int("format_version")
        guard version == formatVersion else {
            throw fail("/@format_version", "is \(version); this XbarSim reads version \(formatVersion)")
        }
        guard root.contains(split.rawValue) else {
            if split == .train {
                throw fail("/train_images", "is missing: calibration needs training images (write them with Datasets/convert.py --train ...)")
            }
            throw fail("/images", "is missing")
        }
        let classNames = try root.strings("class_names")
        guard !classNames.isEmpty else { throw fail("/@class_names", "is empty") }
        let normalized = root.hasAttribute("normalized") ? try root.int("normalized") : 0
        guard normalized == 0 || normalized == 1 else { throw fail("/@normalized", "is \(normalized), expected 0 or 1") }
        let shape = try root.shape(of: split.rawValue)
        guard shape.count == 4, [1, 3].contains(shape[1]), shape[0] > 0, shape[2] > 0, shape[3] > 0,
              shape[2] <= 4096, shape[3] <= 4096 else {
            throw fail("/\(split.rawValue)", "has shape \(shape), expected (N, C, H, W) with C = 1 or 3 and H, W in 1...4096")
        }
        let labels = try root.readInts(split.labels).values
        guard labels.count == shape[0] else {
            throw fail("/\(split.labels)", "has \(labels.count) labels for \(shape[0]) images")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classNames.count }) {
            throw fail("/\(split.labels)", "label \(labels[bad]) of image \(bad) is out of range 0...\(classNames.count - 1) (\(classNames.count) class names)")
        }
        let imageShape = Array(shape.dropFirst())
        let take = min(shape[0], limit ?? shape[0])
        let size = imageShape.reduce(1, *)
        if normalized == 1 {
            let values = try root.readFloats(split.rawValue).values
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw fail("/\(split.rawValue)", "has a non-finite value at flat index \(bad)")
            }
            return CIFAR10(shape: imageShape, pixels: [], normalizedImages: Array(values.prefix(take * size)),
                           labels: labels.prefix(take).map { Int($0) }, classNames: classNames)
        }
        let pixels = try root.readBytes(split.rawValue).values
        return CIFAR10(shape: imageShape, pixels: Array(pixels.prefix(take * size)),
                       labels: labels.prefix(take).map { Int($0) }, classNames: classNames)
    }
}
