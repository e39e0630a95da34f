/// A small dense matrix of `Float` values stored row-major.
///
/// Element `(r, c)` lives at `values[r * cols + c]`. The type is a value: copying a matrix copies
/// its storage lazily (copy-on-write through `Array`), so models that hold matrices are values too.
public struct Matrix: Sendable, Equatable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let cols: Int
    /// The elements in row-major order; `values.count == rows * cols`.
    public var values: [Float]

    /// Creates a matrix from row-major values.
    /// - Parameters:
    ///   - rows: Number of rows (≥ 0).
    ///   - cols: Number of columns (≥ 0).
    ///   - values: `rows * cols` elements in row-major order.
    public init(rows: Int, cols: Int, values: [Float]) {
        precondition(rows >= 0 && cols >= 0, "Matrix: negative shape \(rows)×\(cols)")
        precondition(values.count == rows * cols, "Matrix: \(values.count) values for shape \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    /// Creates a `rows × cols` matrix of zeros.
    public init(zeros rows: Int, cols: Int) {
        self.init(rows: rows, cols: cols, values: [Float](repeating: 0, count: rows * cols))
    }

    /// Creates a matrix from an array of equally long rows.
    /// - Parameter rowArrays: The rows; every row must have the same length.
    public init(rowArrays: [[Float]]) {
        let cols = rowArrays.first?.count ?? 0
        precondition(rowArrays.allSatisfy { $0.count == cols }, "Matrix: ragged rows")
        self.init(rows: rowArrays.count, cols: cols, values: rowArrays.flatMap { $0 })
    }

    /// The element at row `r`, column `c`.
    @inlinable
    public subscript(r: Int, c: Int) -> Float {
        get { values[r * cols + c] }
        set { values[r * cols + c] = newValue }
    }

    /// The values of row `r`, copied.
    public func row(_ r: Int) -> [Float] {
        Array(values[(r * cols)..<((r + 1) * cols)])
    }

    /// A new matrix holding the given rows of this one, in the given order.
    /// - Parameter indices: Row indices; each must be in `0..<rows`.
    public func gatherRows<C: Collection>(_ indices: C) -> Matrix where C.Element == Int {
        var out = [Float](repeating: 0, count: indices.count * cols)
        let cols = self.cols
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var d = 0
                for r in indices {
                    precondition(r >= 0 && r < rows, "Matrix.gatherRows: row \(r) out of 0..<\(rows)")
                    for c in 0..<cols { dst[d + c] = src[r * cols + c] }
                    d += cols
                }
            }
        }
        return Matrix(rows: indices.count, cols: cols, values: out)
    }

    /// The transpose, `cols × rows`.
    public var transposed: Matrix {
        var out = Matrix(zeros: cols, cols: rows)
        for r in 0..<rows { for c in 0..<cols { out.values[c * rows + r] = values[r * cols + c] } }
        return out
    }

    /// Concatenates two matrices with the same number of rows side by side (`[a | b]`).
    public static func hconcat(_ a: Matrix, _ b: Matrix) -> Matrix {
        precondition(a.rows == b.rows, "Matrix.hconcat: \(a.rows) rows against \(b.rows)")
        var out = [Float]()
        out.reserveCapacity(a.rows * (a.cols + b.cols))
        for r in 0..<a.rows {
            out.append(contentsOf: a.values[(r * a.cols)..<((r + 1) * a.cols)])
            out.append(contentsOf: b.values[(r * b.cols)..<((r + 1) * b.cols)])
        }
        return Matrix(rows: a.rows, cols: a.cols + b.cols, values: out)
    }
}
