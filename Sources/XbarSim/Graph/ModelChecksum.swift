import Foundation

#if !_endian(little)
#error("the model checksum hashes in-memory float32/int64 bytes as little-endian")
#endif
import XbarSimIO
import XbarSimSupport

/// Whether a loaded model file's contents were checked against its stored checksum.
public enum ModelIntegrity: Sendable, Equatable {
    /// The SHA-256 stored by the exporter matches the contents.
    case verified
    /// The file has no checksum (written before format checksums existed, or by hand).
    case unchecked
    /// The checksum does not match, and the caller asked to load it anyway (`--no-verify`).
    case mismatchIgnored(stored: String, computed: String)
    /// Verification was switched off (`--no-verify`) and the file has a checksum that was not read.
    case skipped

    /// A warning for the user, or nil when the file was verified.
    public func warning(file: String) -> String? {
        switch self {
        case .verified: nil
        case .unchecked: "warning: \(file) has no checksum (written before format checksums); its integrity is not verified"
        case .mismatchIgnored(let stored, let computed):
            "WARNING: \(file) does NOT match its checksum (stored \(stored.prefix(19))..., contents \(computed.prefix(19))...): "
                + "loaded anyway because of --no-verify; results may be wrong"
        case .skipped: "WARNING: \(file): checksum verification switched off (--no-verify)"
        }
    }
}

/// The model file's SHA-256 (`Weights/FORMAT.md`, "Checksum"): every attribute and dataset
/// the reader uses, in a canonical order and encoding, so Python (`h5model.canonical_checksum`)
/// and Swift compute the same digest from the same file.
extension ModelFile {
    static let rootIntegers = ["format_version", "input_shape", "num_ops", "training_epochs", "training_seed"]
    static let rootReals = ["normalization_mean", "normalization_std", "training_wall_seconds", "float_test_accuracy"]
    static let rootStrings = ["format", "architecture", "class_names", "output", "training_command", "training_hardware", "exporter", "training_noise"]
    /// Root attributes in hashing order.
    static let rootOrder = [
        "format", "format_version", "architecture", "input_shape", "normalization_mean", "normalization_std",
        "class_names", "output", "num_ops", "training_command", "training_epochs", "training_seed",
        "training_wall_seconds", "training_hardware", "float_test_accuracy", "exporter", "training_noise",
    ]
    /// Op attributes beyond name/type/inputs, alphabetical, with their kinds.
    static let opAttributes: [(String, Character)] = [
        ("alpha", "f"), ("approximate", "s"), ("axis", "i"), ("beta", "f"), ("ceil_mode", "i"), ("count_include_pad", "i"),
        ("dilation", "i"), ("eps", "f"), ("groups", "i"), ("kernel", "i"), ("max", "f"), ("min", "f"),
        ("negative_slope", "f"), ("padding", "i"), ("start", "i"), ("stop", "i"), ("stride", "i"), ("threshold", "f"),
    ]
    static let opDatasets = ["beta", "bias", "gamma", "running_mean", "running_var", "weight"]

    /// `sha256:` followed by 64 hex digits.
    public static func canonicalChecksum(_ file: HDF5File, numOps: Int) throws -> String {
        var hasher = Checksum.Hasher()
        func u64(_ v: Int) { withUnsafeBytes(of: UInt64(truncatingIfNeeded: v).littleEndian) { hasher.update($0) } }
        func key(_ k: String) {
            let bytes = Array(k.utf8)
            u64(bytes.count)
            hasher.update(bytes)
        }
        func attribute(_ g: HDF5Group, _ path: String, _ name: String, _ kind: Character) throws {
            guard g.hasAttribute(name) else { return }
            key(path + "@" + name)
            switch kind {
            case "i":
                let v = try g.ints(name)
                hasher.update([UInt8(ascii: "i")])
                u64(v.count)
                for x in v { withUnsafeBytes(of: Int64(x).littleEndian) { hasher.update($0) } }
            case "f":
                let v = try g.doubles(name)
                hasher.update([UInt8(ascii: "f")])
                u64(v.count)
                for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { hasher.update($0) } }
            default:
                let v = try g.strings(name)
                hasher.update([UInt8(ascii: "s")])
                u64(v.count)
                for s in v {
                    let b = Array(s.utf8)
                    u64(b.count)
                    hasher.update(b)
                }
            }
        }
        /// A dataset record: key, kind, rank, dimensions, then the values' little-endian bytes.
        func dataset<T>(_ path: String, _ kind: Unicode.Scalar, _ array: HDF5Array<T>) {
            key(path)
            hasher.update([UInt8(ascii: kind)])
            u64(array.shape.count)
            for d in array.shape { u64(d) }
            // Float32 and Int64 in memory are already the little-endian encoding on every platform Swift targets here.
            array.values.withUnsafeBytes { hasher.update($0) }
        }
        func floats(_ g: HDF5Group, _ path: String, _ name: String) throws {
            guard g.contains(name) else { return }
            dataset(path + "/" + name, "F", try g.readFloats(name))
        }
        func integers(_ g: HDF5Group, _ path: String, _ name: String) throws {
            guard g.contains(name) else { return }
            dataset(path + "/" + name, "I", try g.readInts(name))
        }
        let root = try file.root()
        for name in rootOrder {
            let kind: Character = rootIntegers.contains(name) ? "i" : rootReals.contains(name) ? "f" : "s"
            try attribute(root, "", name, kind)
        }
        for i in 0..<numOps {
            let path = "/ops/" + groupName(i)
            guard root.contains("ops"), try file.group("/ops").contains(groupName(i)) else { continue }
            let g = try file.group(path)
            for name in ["name", "type", "inputs"] { try attribute(g, path, name, "s") }
            for (name, kind) in opAttributes { try attribute(g, path, name, kind) }
            for name in opDatasets { try floats(g, path, name) }
        }
        if root.contains("golden") {
            let g = try file.group("/golden")
            try integers(g, "/golden", "test_indices")
            try integers(g, "/golden", "labels")
            try floats(g, "/golden", "logits")
            if g.contains("ops") {
                let o = try file.group("/golden/ops")
                try attribute(o, "/golden/ops", "image_index", "i")
                for i in 0..<numOps { try floats(o, "/golden/ops", groupName(i)) }
            }
        }
        return "sha256:" + hasher.finalizeHex()
    }
}
