import CBLAS

// The only file in RecModel that talks to OpenBLAS. Every matrix product goes through here.

/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    /// Use the operand as stored.
    case none
    /// Use the operand's transpose.
    case transposed

    fileprivate var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// General matrix multiply through OpenBLAS `cblas_sgemm`:
/// `C ← α·op(A)·op(B) + β·C`, all row-major.
///
/// `c` must already have the shape of `op(A)·op(B)`; with `beta == 0` its contents are ignored.
/// Shapes are checked with preconditions.
/// - Parameters:
///   - a: Left operand.
///   - transA: Whether to use `aᵀ`.
///   - b: Right operand.
///   - transB: Whether to use `bᵀ`.
///   - c: Output (and accumulator when `beta != 0`).
///   - alpha: Scale of the product.
///   - beta: Scale of the existing `c`.
public func gemm(
    _ a: Matrix, _ b: Matrix, transA: Transpose = .none, transB: Transpose = .none,
    into c: inout Matrix, alpha: Float = 1, beta: Float = 0
) {
    let m = transA == .none ? a.rows : a.cols
    let k = transA == .none ? a.cols : a.rows
    let kb = transB == .none ? b.rows : b.cols
    let n = transB == .none ? b.cols : b.rows
    precondition(k == kb, "gemm: inner dimensions differ (\(m)×\(k) · \(kb)×\(n))")
    precondition(c.rows == m && c.cols == n, "gemm: output is \(c.rows)×\(c.cols), product is \(m)×\(n)")
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 {
            c.values.withUnsafeMutableBufferPointer { buf in for i in buf.indices { buf[i] = 0 } }
        } else {
            c.values.withUnsafeMutableBufferPointer { buf in for i in buf.indices { buf[i] *= beta } }
        }
        return
    }
    a.values.withUnsafeBufferPointer { pa in
        b.values.withUnsafeBufferPointer { pb in
            c.values.withUnsafeMutableBufferPointer { pc in
                gemm(
                    m: m, n: n, k: k, a: pa.baseAddress!, lda: max(a.cols, 1), transA: transA,
                    b: pb.baseAddress!, ldb: max(b.cols, 1), transB: transB, c: pc.baseAddress!, alpha: alpha, beta: beta)
            }
        }
    }
}

/// ``gemm(_:_:transA:transB:into:alpha:beta:)`` on raw row-major buffers, with no allocation:
/// `C ← α·op(A)·op(B) + β·C` where `op(A)` is `m × k`, `op(B)` is `k × n` and `C` is `m × n`
/// with leading dimension `n`. The matrix form calls this one, so the two give the same bits.
/// With `k == 0` the product is empty: `C` is zeroed (`beta == 0`) or scaled by `beta`.
/// - Parameters:
///   - lda: `A`'s row stride as stored (its column count).
///   - ldb: `B`'s row stride as stored.
/// - Precondition: `m, n, k ≥ 0`; every buffer holds the elements its shape names.
public func gemm(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transA: Transpose,
    b: UnsafePointer<Float>, ldb: Int, transB: Transpose, c: UnsafeMutablePointer<Float>,
    alpha: Float = 1, beta: Float = 0
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative shape \(m)×\(k) · \(k)×\(n)")
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 {
            c.update(repeating: 0, count: m * n)
        } else {
            for i in 0..<(m * n) { c[i] *= beta }
        }
        return
    }
    cblas_sgemm(
        CblasRowMajor, transA.cblas, transB.cblas, blasint(m), blasint(n), blasint(k),
        alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(max(n, 1)))
}

/// The dense layer's affine product on raw row-major buffers, with no allocation:
/// `Z ← X·Wᵀ`, `X` is `rows × inputs`, `W` is `outputs × inputs` (PyTorch's and ONNX `Gemm`'s
/// `transB = 1` layout) and `Z` is `rows × outputs`.
///
/// The BLAS call is shaped for the batch: a single output unit is `z = X·w` (`cblas_sgemv`), up to
/// ``matrixVectorRows`` rows are one matrix–vector product `z = W·x` a row (`cblas_sgemv`), and
/// everything else is one `cblas_sgemm` (no transposed copy of `W`: BLAS packs it as it reads it).
/// Matrix–vector shapes skip sgemm's packing of both operands, which is most of its cost at these
/// sizes: OpenBLAS 0.3.21 packs all of `W` for a product of 2 rows as for 200 (docs/BENCHMARKS.md,
/// "Micro-batches of a few rows").
/// - Precondition: every buffer holds at least the elements its shape names.
/// The most rows ``denseProduct(input:rows:inputs:weight:outputs:into:)`` computes as one
/// matrix–vector product each: up to this sgemm's packing of the weights costs more than reading them
/// once a row (measured with `recpool bench-model --batches 1,2,3,4,6,8` on this project's machine).
public let matrixVectorRows = 7

public func denseProduct(
    input x: UnsafePointer<Float>, rows: Int, inputs: Int, weight w: UnsafePointer<Float>, outputs: Int,
    into z: UnsafeMutablePointer<Float>
) {
    precondition(rows >= 0 && inputs > 0 && outputs > 0, "denseProduct: shape \(rows)×\(inputs) → \(outputs)")
    if rows == 0 { return }
    if outputs == 1 {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(rows), blasint(inputs), 1, x, blasint(inputs), w, 1, 0, z, 1)
    } else if rows <= matrixVectorRows {
        for row in 0..<rows {
            cblas_sgemv(
                CblasRowMajor, CblasNoTrans, blasint(outputs), blasint(inputs), 1, w, blasint(inputs),
                x + row * inputs, 1, 0, z + row * outputs, 1)
        }
    } else {
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, blasint(rows), blasint(outputs), blasint(inputs),
            1, x, blasint(inputs), w, blasint(inputs), 0, z, blasint(outputs))
    }
}

/// Returns `op(A)·op(B)` as a new matrix (see ``gemm(_:_:transA:transB:into:alpha:beta:)``).
public func matmul(_ a: Matrix, _ b: Matrix, transA: Transpose = .none, transB: Transpose = .none) -> Matrix {
    let m = transA == .none ? a.rows : a.cols
    let n = transB == .none ? b.cols : b.rows
    var c = Matrix(zeros: m, cols: n)
    gemm(a, b, transA: transA, transB: transB, into: &c)
    return c
}

/// Sets how many threads OpenBLAS may use (benchmarks pin it to 1).
public func setBLASThreadCount(_ n: Int) {
    openblas_set_num_threads(Int32(n))
}

/// OpenBLAS's own thread pool.
///
/// RecPool gets its parallelism from processes and threads, one GEMM chain each, so workers run
/// OpenBLAS single-threaded: several multi-threaded BLAS pools on a few cores only fight.
public enum BLASThreads {
    /// Sets how many threads OpenBLAS may use (`openblas_set_num_threads`).
    public static func set(_ count: Int) {
        precondition(count >= 1, "OpenBLAS needs at least one thread, got \(count)")
        openblas_set_num_threads(Int32(count))
    }
}
