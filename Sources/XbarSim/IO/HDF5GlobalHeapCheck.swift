import Foundation

/// Checks the global heap collections of an HDF5 file (where variable-length strings live)
/// before the HDF5 library reads them.
///
/// libhdf5 trusts each heap object's stored size: a flipped bit there makes `H5Aread` of a
/// variable-length string copy from far past the collection and crash (found by
/// `scripts/fuzz.py`). Every collection (`GCOL`, version 1) must lie inside the file, and
/// every object in it must end inside the collection; anything else is an `HDF5Error` naming
/// the file and the byte offset.
public enum HDF5GlobalHeapCheck {
    public static func verify(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { return }  // H5Fopen reports it
        try verify(data, path: path)
    }

    public static func verify(_ data: Data, path: String) throws {
        let bytes = [UInt8](data)
        let n = bytes.count
        func u64(_ at: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in (0..<8).reversed() { v = v << 8 | UInt64(bytes[at + k]) }
            return v
        }
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func corrupt(_ at: Int, _ what: String) -> HDF5Error {
            HDF5Error(file: path, object: "/", message: "corrupt global heap collection at byte \(at) (\(what))")
        }
        let signature = Array("GCOL".utf8)
        var p = 0
        while p + 16 <= n {
            // Find the next signature.
            guard bytes[p] == signature[0], bytes[p + 1] == signature[1], bytes[p + 2] == signature[2],
                  bytes[p + 3] == signature[3], bytes[p + 4] == 1
            else {
                p += 1
                continue
            }
            let size = u64(p + 8)
            guard size >= 16, size <= UInt64(n - p) else {
                throw corrupt(p, "declares \(size) bytes, the file has \(n - p) from there")
            }
            let end = p + Int(size)
            var q = p + 16
            while q + 16 <= end {
                let index = u16(q)
                let objectSize = u64(q + 8)
                guard objectSize <= UInt64(end - q) else {
                    throw corrupt(p, "object \(index) at byte \(q) declares \(objectSize) bytes")
                }
                if index == 0 { break }  // free space: the rest of the collection
                let padded = (Int(objectSize) + 7) & ~7
                guard q + 16 + padded <= end else {
                    throw corrupt(p, "object \(index) at byte \(q) runs past the collection")
                }
                q += 16 + padded
            }
            p = end
        }
    }
}
