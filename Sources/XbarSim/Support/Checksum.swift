import Crypto
import Foundation

/// SHA-256 digests through swift-crypto's maintained implementation (BoringSSL on Linux,
/// CryptoKit on Apple platforms). The one place XbarSim hashes bytes: sweep point keys, and
/// model-file checksums.
public enum Checksum {
    /// The 32-byte SHA-256 digest of `bytes`.
    public static func sha256<Bytes: DataProtocol>(_ bytes: Bytes) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// The digest as 64 lowercase hexadecimal digits.
    public static func sha256Hex<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
        hex(sha256(bytes))
    }

    /// An incremental SHA-256 (for data hashed in parts, e.g. every dataset of a file in order).
    public struct Hasher: Sendable {
        var state = SHA256()
        public init() {}
        public mutating func update<Bytes: DataProtocol>(_ bytes: Bytes) { state.update(data: bytes) }
        public func finalize() -> [UInt8] { Array(state.finalize()) }
        public func finalizeHex() -> String { Checksum.hex(finalize()) }
    }

    /// Lowercase hexadecimal digits of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
