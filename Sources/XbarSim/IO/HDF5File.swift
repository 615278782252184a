import CHDF5
import Foundation
import XbarSimSupport
#if canImport(Glibc)
import Glibc
#endif

/// An open HDF5 file. Closed when the last reference goes away.
///
/// The HDF5 library in Debian is built without thread safety, so a file and its
/// groups are used from one thread at a time (XbarSim loads models serially).
public final class HDF5File {
    /// The path the file was opened with; every error names it.
    public let path: String
    let id: hid_t

    /// Opens an existing file for reading.
    public init(readingFrom path: String) throws {
        HDF5Library.prepareThread()
        self.path = path
        guard !FileManager.default.fileExists(atPath: path) || isRegularFile(path) else {
            throw HDF5Error(file: path, object: "/", message: "not a regular file")
        }
        guard H5Fis_hdf5(path) > 0 else {
            throw HDF5Error(file: path, object: "/", message: "not an HDF5 file, or it cannot be read")
        }
        try HDF5GlobalHeapCheck.verify(path: path)
        try HDF5File.readPreflight?(path)
        let opened = H5Fopen(path, xbar_H5F_ACC_RDONLY(), xbar_H5P_DEFAULT())
        guard opened >= 0 else {
            // H5Fis_hdf5 only checks the signature: a copy cut short passes it and fails here.
            throw HDF5Error(file: path, object: "/",
                            message: "has an HDF5 signature but cannot be opened (truncated or corrupt copy?)")
        }
        id = opened
    }

    /// Creates (or truncates) a file for writing.
    public init(creating path: String) throws {
        HDF5Library.prepareThread()
        self.path = path
        id = try h5check(
            H5Fcreate(path, xbar_H5F_ACC_TRUNC(), xbar_H5P_DEFAULT(), xbar_H5P_DEFAULT()),
            "H5Fcreate", file: path, object: "/")
    }

    /// Opens an existing file for reading and writing (adding attributes after the fact).
    public init(openingForWriting path: String) throws {
        HDF5Library.prepareThread()
        self.path = path
        id = try h5check(H5Fopen(path, xbar_H5F_ACC_RDWR(), xbar_H5P_DEFAULT()), "H5Fopen", file: path, object: "/")
    }

    deinit { H5Fclose(id) }

    /// The root group `/`.
    public func root() throws -> HDF5Group { try HDF5Group(file: self, path: "/") }

    /// The group at an absolute path such as `/ops/0001`.
    public func group(_ path: String) throws -> HDF5Group { try HDF5Group(file: self, path: path) }
}

/// Shape and values of a numeric dataset or attribute.
public struct HDF5Array<Element: Sendable>: Sendable {
    public var shape: [Int]
    public var values: [Element]
}

/// An open group. Reads and writes its datasets and attributes by name.
public final class HDF5Group {
    public let file: HDF5File
    /// Absolute path inside the file, e.g. `/ops/0001`.
    public let path: String
    let id: hid_t

    init(file: HDF5File, path: String) throws {
        HDF5Library.prepareThread()
        self.file = file
        self.path = path
        if path != "/" && H5Lexists(file.id, path, xbar_H5P_DEFAULT()) <= 0 {
            throw HDF5Error(file: file.path, object: path, message: "group is missing")
        }
        id = try h5check(
            H5Gopen2(file.id, path, xbar_H5P_DEFAULT()), "H5Gopen2", file: file.path, object: path)
    }

    deinit { H5Gclose(id) }

    func objectPath(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }
    func attributePath(_ name: String) -> String { path + "@" + name }
    func error(_ object: String, _ message: String) -> HDF5Error {
        HDF5Error(file: file.path, object: object, message: message)
    }

    // MARK: Structure

    /// Whether a link (subgroup or dataset) of this name exists in the group.
    public func contains(_ name: String) -> Bool { H5Lexists(id, name, xbar_H5P_DEFAULT()) > 0 }

    /// Whether the group has an attribute of this name.
    public func hasAttribute(_ name: String) -> Bool { H5Aexists(id, name) > 0 }

    /// Removes an attribute (files opened for writing); no-op when it does not exist.
    public func deleteAttribute(_ name: String) throws {
        guard hasAttribute(name) else { return }
        try h5check(H5Adelete(id, name), "H5Adelete", file: file.path, object: attributePath(name))
    }

    /// A subgroup by name.
    public func group(_ name: String) throws -> HDF5Group { try HDF5Group(file: file, path: objectPath(name)) }

    /// Creates a subgroup.
    @discardableResult
    public func createGroup(_ name: String) throws -> HDF5Group {
        let object = objectPath(name)
        let gid = try h5check(
            H5Gcreate2(id, name, xbar_H5P_DEFAULT(), xbar_H5P_DEFAULT(), xbar_H5P_DEFAULT()),
            "H5Gcreate2", file: file.path, object: object)
        H5Gclose(gid)
        return try group(name)
    }

    // MARK: Datasets

    /// Reads a numeric dataset as Float32 (HDF5 converts other float widths).
    public func readFloats(_ name: String) throws -> HDF5Array<Float> {
        try readDataset(name, memoryType: xbar_H5T_NATIVE_FLOAT(), expected: H5T_FLOAT, zero: 0)
    }

    /// Reads an integer dataset as Int64.
    public func readInts(_ name: String) throws -> HDF5Array<Int64> {
        try readDataset(name, memoryType: xbar_H5T_NATIVE_INT64(), expected: H5T_INTEGER, zero: 0)
    }

    /// Reads an integer dataset as bytes (HDF5 converts; values outside 0...255 are an HDF5 error).
    public func readBytes(_ name: String) throws -> HDF5Array<UInt8> {
        try readDataset(name, memoryType: xbar_H5T_NATIVE_UINT8(), expected: H5T_INTEGER, zero: 0)
    }

    /// The shape of a dataset, without reading it.
    public func shape(of name: String) throws -> [Int] {
        let object = objectPath(name)
        guard contains(name) else { throw error(object, "dataset is missing") }
        let did = try h5check(H5Dopen2(id, name, xbar_H5P_DEFAULT()), "H5Dopen2", file: file.path, object: object)
        defer { H5Dclose(did) }
        let sid = try h5check(H5Dget_space(did), "H5Dget_space", file: file.path, object: object)
        defer { H5Sclose(sid) }
        return try extent(sid, object: object)
    }


    private func readDataset<T>(
        _ name: String, memoryType: hid_t, expected: H5T_class_t, zero: T
    ) throws -> HDF5Array<T> {
        let object = objectPath(name)
        guard contains(name) else { throw error(object, "dataset is missing") }
        let did = try h5check(H5Dopen2(id, name, xbar_H5P_DEFAULT()), "H5Dopen2", file: file.path, object: object)
        defer { H5Dclose(did) }
        let tid = try h5check(H5Dget_type(did), "H5Dget_type", file: file.path, object: object)
        let typeClass = H5Tget_class(tid)
        H5Tclose(tid)
        guard typeClass == expected else {
            throw error(object, "expected a \(describe(expected)) dataset, found \(describe(typeClass))")
        }
        let sid = try h5check(H5Dget_space(did), "H5Dget_space", file: file.path, object: object)
        defer { H5Sclose(sid) }
        let shape = try extent(sid, object: object)
        let count = try checkedCount(shape, elementBytes: MemoryLayout<T>.stride, object: object)
        var values = [T](repeating: zero, count: count)
        if count > 0 {
            try values.withUnsafeMutableBytes { buffer in
                _ = try h5check(
                    H5Dread(did, memoryType, xbar_H5S_ALL(), xbar_H5S_ALL(), xbar_H5P_DEFAULT(), buffer.baseAddress),
                    "H5Dread", file: file.path, object: object)
            }
        }
        return HDF5Array(shape: shape, values: values)
    }

    /// Writes a Float32 dataset of the given shape (optionally gzip-compressed).
    public func write(_ name: String, shape: [Int], floats: [Float]) throws {
        try writeDataset(name, shape: shape, values: floats, fileType: xbar_H5T_IEEE_F32LE(),
                         memoryType: xbar_H5T_NATIVE_FLOAT())
    }

    /// Writes an Int64 dataset of the given shape.
    public func write(_ name: String, shape: [Int], ints: [Int64]) throws {
        try writeDataset(name, shape: shape, values: ints, fileType: xbar_H5T_STD_I64LE(),
                         memoryType: xbar_H5T_NATIVE_INT64())
    }

    /// Writes a uint8 dataset of the given shape (image pixels).
    public func write(_ name: String, shape: [Int], bytes: [UInt8]) throws {
        try writeDataset(name, shape: shape, values: bytes, fileType: xbar_H5T_STD_U8LE(),
                         memoryType: xbar_H5T_NATIVE_UINT8())
    }

    private func writeDataset<T>(_ name: String, shape: [Int], values: [T], fileType: hid_t, memoryType: hid_t) throws {
        let object = objectPath(name)
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
        let dims = shape.map { hsize_t($0) }
        let sid = try h5check(H5Screate_simple(Int32(dims.count), dims, nil), "H5Screate_simple",
                              file: file.path, object: object)
        defer { H5Sclose(sid) }
        let did = try h5check(
            H5Dcreate2(id, name, fileType, sid, xbar_H5P_DEFAULT(), xbar_H5P_DEFAULT(), xbar_H5P_DEFAULT()),
            "H5Dcreate2", file: file.path, object: object)
        defer { H5Dclose(did) }
        try values.withUnsafeBytes { buffer in
            _ = try h5check(H5Dwrite(did, memoryType, xbar_H5S_ALL(), xbar_H5S_ALL(), xbar_H5P_DEFAULT(), buffer.baseAddress),
                        "H5Dwrite", file: file.path, object: object)
        }
    }

    // MARK: Attributes

    /// A string attribute (fixed or variable length; a one-element string array is accepted).
    public func string(_ name: String) throws -> String {
        let all = try strings(name)
        guard all.count == 1 else {
            throw error(attributePath(name), "expected one string, found \(all.count)")
        }
        return all[0]
    }

    /// A string or string-array attribute.
    public func strings(_ name: String) throws -> [String] {
        try withAttribute(name) { aid, object in
            let tid = try h5check(H5Aget_type(aid), "H5Aget_type", file: file.path, object: object)
            defer { H5Tclose(tid) }
            guard H5Tget_class(tid) == H5T_STRING else {
                throw error(object, "expected a string attribute, found \(describe(H5Tget_class(tid)))")
            }
            let sid = try h5check(H5Aget_space(aid), "H5Aget_space", file: file.path, object: object)
            defer { H5Sclose(sid) }
            let count = try attributeCount(sid, object: object)
            let memoryType = H5Tcopy(xbar_H5T_C_S1())
            defer { H5Tclose(memoryType) }
            H5Tset_cset(memoryType, H5T_CSET_UTF8)
            if H5Tis_variable_str(tid) > 0 {
                H5Tset_size(memoryType, xbar_H5T_VARIABLE())
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                try h5check(H5Aread(aid, memoryType, &pointers), "H5Aread", file: file.path, object: object)
                let result = pointers.map { $0.map { String(cString: $0) } ?? "" }
                _ = xbar_H5_reclaim_strings(memoryType, sid, &pointers)
                return result
            }
            let width = H5Tget_size(tid)
            // A corrupt datatype can declare any width: the strings must fit the attribute's storage.
            let total = try checkedCount([count, width], elementBytes: 1, object: object)
            guard width > 0, width <= 1 << 20, UInt64(H5Aget_storage_size(aid)) >= UInt64(total) else {
                throw error(object, "corrupt string attribute (\(count) strings of \(width) bytes, "
                            + "\(H5Aget_storage_size(aid)) bytes stored)")
            }
            H5Tset_size(memoryType, width)
            var bytes = [UInt8](repeating: 0, count: total)
            try h5check(H5Aread(aid, memoryType, &bytes), "H5Aread", file: file.path, object: object)
            return (0..<count).map { i in
                let slice = bytes[(i * width)..<((i + 1) * width)]
                let trimmed = slice.prefix { $0 != 0 }
                return String(decoding: trimmed, as: UTF8.self)
            }
        }
    }

    /// An integer (scalar or array) attribute, converted to Int.
    public func ints(_ name: String) throws -> [Int] {
        try numericAttribute(name, memoryType: xbar_H5T_NATIVE_INT64(), expected: H5T_INTEGER, zero: Int64(0))
            .map { Int($0) }
    }

    /// A scalar integer attribute.
    public func int(_ name: String) throws -> Int {
        let all = try ints(name)
        guard all.count == 1 else { throw error(attributePath(name), "expected one integer, found \(all.count)") }
        return all[0]
    }

    /// A real (scalar or array) attribute; integer attributes are accepted and converted.
    public func doubles(_ name: String) throws -> [Double] {
        try numericAttribute(name, memoryType: xbar_H5T_NATIVE_DOUBLE(), expected: nil, zero: 0.0)
    }

    /// A scalar real attribute.
    public func double(_ name: String) throws -> Double {
        let all = try doubles(name)
        guard all.count == 1 else { throw error(attributePath(name), "expected one number, found \(all.count)") }
        return all[0]
    }

    private func numericAttribute<T>(
        _ name: String, memoryType: hid_t, expected: H5T_class_t?, zero: T
    ) throws -> [T] {
        try withAttribute(name) { aid, object in
            let tid = try h5check(H5Aget_type(aid), "H5Aget_type", file: file.path, object: object)
            let typeClass = H5Tget_class(tid)
            let typeSize = H5Tget_size(tid)
            H5Tclose(tid)
            let accepted = expected.map { typeClass == $0 } ?? (typeClass == H5T_INTEGER || typeClass == H5T_FLOAT)
            guard accepted else {
                throw error(object, "expected a \(expected.map(describe) ?? "numeric") attribute, found \(describe(typeClass))")
            }
            let sid = try h5check(H5Aget_space(aid), "H5Aget_space", file: file.path, object: object)
            defer { H5Sclose(sid) }
            let count = try attributeCount(sid, object: object)
            let stored = try checkedCount([count, typeSize], elementBytes: 1, object: object)
            guard typeSize > 0, typeSize <= 16, UInt64(H5Aget_storage_size(aid)) >= UInt64(stored) else {
                throw error(object, "corrupt numeric attribute (\(count) values of \(typeSize) bytes, "
                            + "\(H5Aget_storage_size(aid)) bytes stored)")
            }
            var values = [T](repeating: zero, count: count)
            try values.withUnsafeMutableBytes { buffer in
                _ = try h5check(H5Aread(aid, memoryType, buffer.baseAddress), "H5Aread", file: file.path, object: object)
            }
            return values
        }
    }

    private func withAttribute<R>(_ name: String, _ body: (hid_t, String) throws -> R) throws -> R {
        let object = attributePath(name)
        guard hasAttribute(name) else { throw error(object, "attribute is missing") }
        let aid = try h5check(H5Aopen(id, name, xbar_H5P_DEFAULT()), "H5Aopen", file: file.path, object: object)
        defer { H5Aclose(aid) }
        return try body(aid, object)
    }

    /// Writes a variable-length UTF-8 string attribute (as h5py does).
    public func setAttribute(_ name: String, string: String) throws {
        try setAttribute(name, strings: [string], scalar: true)
    }

    /// Writes a 1-D array of variable-length UTF-8 strings.
    public func setAttribute(_ name: String, strings: [String], scalar: Bool = false) throws {
        let object = attributePath(name)
        let memoryType = H5Tcopy(xbar_H5T_C_S1())
        defer { H5Tclose(memoryType) }
        H5Tset_size(memoryType, xbar_H5T_VARIABLE())
        H5Tset_cset(memoryType, H5T_CSET_UTF8)
        let dims = [hsize_t(strings.count)]
        let sid = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, nil)
        try h5check(sid, "H5Screate", file: file.path, object: object)
        defer { H5Sclose(sid) }
        if hasAttribute(name) { H5Adelete(id, name) }   // replacing an attribute (files opened for writing)
        let aid = try h5check(H5Acreate2(id, name, memoryType, sid, xbar_H5P_DEFAULT(), xbar_H5P_DEFAULT()),
                              "H5Acreate2", file: file.path, object: object)
        defer { H5Aclose(aid) }
        var cStrings = strings.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        try h5check(H5Awrite(aid, memoryType, &cStrings), "H5Awrite", file: file.path, object: object)
    }

    /// Writes an Int64 attribute (a scalar when `scalar` is true and there is one value).
    public func setAttribute(_ name: String, ints: [Int], scalar: Bool = false) throws {
        try writeNumericAttribute(name, values: ints.map { Int64($0) }, scalar: scalar,
                                  fileType: xbar_H5T_STD_I64LE(), memoryType: xbar_H5T_NATIVE_INT64())
    }

    /// Writes a Float64 attribute.
    public func setAttribute(_ name: String, doubles: [Double], scalar: Bool = false) throws {
        try writeNumericAttribute(name, values: doubles, scalar: scalar,
                                  fileType: xbar_H5T_IEEE_F64LE(), memoryType: xbar_H5T_NATIVE_DOUBLE())
    }

    private func writeNumericAttribute<T>(_ name: String, values: [T], scalar: Bool, fileType: hid_t, memoryType: hid_t) throws {
        let object = attributePath(name)
        precondition(!scalar || values.count == 1, "a scalar attribute holds one value")
        let dims = [hsize_t(values.count)]
        let sid = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, nil)
        try h5check(sid, "H5Screate", file: file.path, object: object)
        defer { H5Sclose(sid) }
        if hasAttribute(name) { H5Adelete(id, name) }   // replacing an attribute (files opened for writing)
        let aid = try h5check(H5Acreate2(id, name, fileType, sid, xbar_H5P_DEFAULT(), xbar_H5P_DEFAULT()),
                              "H5Acreate2", file: file.path, object: object)
        defer { H5Aclose(aid) }
        try values.withUnsafeBytes { buffer in
            _ = try h5check(H5Awrite(aid, memoryType, buffer.baseAddress), "H5Awrite", file: file.path, object: object)
        }
    }

    private func extent(_ space: hid_t, object: String) throws -> [Int] {
        let rank = Int(try h5check(H5Sget_simple_extent_ndims(space), "H5Sget_simple_extent_ndims",
                                   file: file.path, object: object))
        guard rank <= 32 else { throw error(object, "corrupt dataspace (rank \(rank))") }
        var dims = [hsize_t](repeating: 0, count: rank)
        if rank > 0 {
            try h5check(H5Sget_simple_extent_dims(space, &dims, nil), "H5Sget_simple_extent_dims",
                        file: file.path, object: object)
        }
        guard dims.allSatisfy({ $0 <= hsize_t(Int.max) }) else {
            throw error(object, "corrupt dataspace (dimensions \(dims))")
        }
        return dims.map { Int($0) }
    }

    /// Elements of an attribute's dataspace, checked (a corrupt one can report any number).
    private func attributeCount(_ space: hid_t, object: String) throws -> Int {
        let n = H5Sget_simple_extent_npoints(space)
        guard n >= 0, n <= 1 << 24 else { throw error(object, "corrupt attribute dataspace (\(n) elements)") }
        return Int(n)
    }

    /// The product of `shape`, checked for overflow and against the memory budget before allocating.
    private func checkedCount(_ shape: [Int], elementBytes: Int, object: String) throws -> Int {
        do {
            let count = try CheckedSize.product(shape, parameter: object)
            try MemoryBudget.check(elements: [count], elementBytes: elementBytes, what: "\(shape)", parameter: object)
            return count
        } catch let e as InputError {
            throw error(object, "declares \(shape) elements: \(e.message)")
        }
    }
}

private func describe(_ typeClass: H5T_class_t) -> String {
    switch typeClass {
    case H5T_INTEGER: return "integer"
    case H5T_FLOAT: return "floating-point"
    case H5T_STRING: return "string"
    case H5T_COMPOUND: return "compound"
    case H5T_ENUM: return "enum"
    case H5T_ARRAY: return "array"
    default: return "type class \(typeClass.rawValue)"
    }
}
