import CBLAS

/// A LAPACK routine reported failure (`info != 0`): for the Cholesky routines, a positive
/// `info` means the matrix is not positive definite.
public struct LAPACKError: Error, Hashable, CustomStringConvertible {
    /// Fortran name, e.g. `dpotrf`.
    public var routine: String
    public var info: Int
    public var description: String { "\(routine) failed (info \(info))" }
}

/// The few double-precision LAPACK calls XbarSim needs (Cholesky of symmetric positive
/// definite matrices), on contiguous buffers. Symmetric matrices are passed as full
/// `n x n` buffers; row- and column-major coincide for them.
public enum LAPACK {
    /// Replaces the SPD matrix `a` (`n x n`) by its inverse (`dpotrf` then `dpotri`),
    /// both triangles filled.
    public static func invertSymmetricPositiveDefinite(_ a: UnsafeMutablePointer<Double>, n: Int) throws(LAPACKError) {
        guard n > 0 else { return }
        try choleskyFactor(a, n: n)
        var uplo = Int8(UInt8(ascii: "L"))
        var n32 = Int32(n), info: Int32 = 0
        dpotri_(&uplo, &n32, a, &n32, &info, 1)
        guard info == 0 else { throw LAPACKError(routine: "dpotri", info: Int(info)) }
        // Column-major lower triangle = row-major upper triangle: mirror it.
        BLAS.mirrorUpperTriangle(a, n: n, ldc: n)
    }

    /// Cholesky factor of the SPD matrix `a` (`n x n`) in place (`dpotrf`, lower, column-major).
    public static func choleskyFactor(_ a: UnsafeMutablePointer<Double>, n: Int) throws(LAPACKError) {
        guard n > 0 else { return }
        var uplo = Int8(UInt8(ascii: "L"))
        var n32 = Int32(n), info: Int32 = 0
        dpotrf_(&uplo, &n32, a, &n32, &info, 1)
        guard info == 0 else { throw LAPACKError(routine: "dpotrf", info: Int(info)) }
    }

    /// Solves `A·X = B` with the factor from `choleskyFactor` (`dpotrs`); `b` holds `nrhs`
    /// right-hand sides of length `n`, each contiguous (column-major `n x nrhs`).
    public static func choleskySolve(
        factor: UnsafePointer<Double>, n: Int, _ b: UnsafeMutablePointer<Double>, rightHandSides nrhs: Int
    ) throws(LAPACKError) {
        guard n > 0, nrhs > 0 else { return }
        var uplo = Int8(UInt8(ascii: "L"))
        var n32 = Int32(n), k = Int32(nrhs), info: Int32 = 0
        dpotrs_(&uplo, &n32, &k, factor, &n32, b, &n32, &info, 1)
        guard info == 0 else { throw LAPACKError(routine: "dpotrs", info: Int(info)) }
    }
}

extension BLAS {
    /// `C = alpha * op(A) * op(B) + beta * C` in double precision (row-major, `cblas_dgemm`).
    @inline(__always)
    public static func dgemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int, alpha: Double = 1,
        a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        cblas_dgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension BLAS {
    /// `C = alpha · op(A)·op(A)ᵀ + beta · C` on the upper triangle of `C` (`n x n`), row-major
    /// (`cblas_dsyrk`): `op(A)` is `A` (`n x k`), or `Aᵀ` for a `k x n` `A` with `transposeA`.
    /// The lower triangle is left untouched; `mirrorUpperTriangle` fills it.
    @inline(__always)
    public static func dsyrk(
        transposeA: Bool = false, n: Int, k: Int, alpha: Double = 1, a: UnsafePointer<Double>, lda: Int,
        beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        guard n > 0 else { return }
        cblas_dsyrk(CblasRowMajor, CblasUpper, transposeA ? CblasTrans : CblasNoTrans, Int32(n), Int32(k), alpha, a,
                    Int32(lda), beta, c, Int32(ldc))
    }

    /// Copies the upper triangle of the `n x n` matrix `c` onto its lower triangle.
    public static func mirrorUpperTriangle(_ c: UnsafeMutablePointer<Double>, n: Int, ldc: Int) {
        for i in 0..<n {
            for j in (i + 1)..<n { c[j * ldc + i] = c[i * ldc + j] }
        }
    }
}
