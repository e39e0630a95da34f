import Testing

@testable import RecModel

@Suite("GEMM through OpenBLAS")
struct GEMMTests {
    /// A naive product, fine in a test.
    static func naive(_ a: Matrix, _ b: Matrix) -> Matrix {
        var c = Matrix(zeros: a.rows, cols: b.cols)
        for i in 0..<a.rows {
            for j in 0..<b.cols {
                var s: Double = 0
                for k in 0..<a.cols { s += Double(a[i, k]) * Double(b[k, j]) }
                c[i, j] = Float(s)
            }
        }
        return c
    }

    static func random(_ rows: Int, _ cols: Int, _ rng: inout Xoshiro256) -> Matrix {
        Matrix(rows: rows, cols: cols, values: (0..<(rows * cols)).map { _ in rng.nextFloat(in: -1, 1) })
    }

    @Test(
        "the dense product X·Wᵀ matches a Double reference on both sides of the matrix–vector threshold",
        arguments: [1, 2, matrixVectorRows - 1, matrixVectorRows, matrixVectorRows + 1, 33])
    func denseProductShapes(rows: Int) {
        var rng = Xoshiro256(seed: UInt64(100 + rows))
        for outputs in [1, 3, 17] {
            let x = Self.random(rows, 11, &rng)
            let w = Self.random(outputs, 11, &rng)
            var z = [Float](repeating: .nan, count: rows * outputs)
            x.values.withUnsafeBufferPointer { xp in
                w.values.withUnsafeBufferPointer { wp in
                    z.withUnsafeMutableBufferPointer { zp in
                        denseProduct(
                            input: xp.baseAddress!, rows: rows, inputs: 11, weight: wp.baseAddress!, outputs: outputs,
                            into: zp.baseAddress!)
                    }
                }
            }
            var transposed = Matrix(zeros: 11, cols: outputs)
            for o in 0..<outputs { for k in 0..<11 { transposed[k, o] = w[o, k] } }
            let expected = Self.naive(x, transposed)
            for index in 0..<(rows * outputs) {
                #expect(abs(z[index] - expected.values[index]) < 1e-5, "rows \(rows), outputs \(outputs), \(index)")
            }
        }
    }

    @Test("a 2×3 times 3×2 product equals the hand-computed answer")
    func knownProduct() {
        let a = Matrix(rowArrays: [[1, 2, 3], [4, 5, 6]])
        let b = Matrix(rowArrays: [[7, 8], [9, 10], [11, 12]])
        #expect(matmul(a, b) == Matrix(rowArrays: [[58, 64], [139, 154]]))
    }

    @Test(
        "every transpose combination matches a naive product",
        arguments: [(1, 1, 1), (3, 5, 2), (32, 106, 64), (7, 1, 9)])
    func transposes(shape: (Int, Int, Int)) {
        let (m, k, n) = shape
        var rng = Xoshiro256(seed: 7)
        let a = Self.random(m, k, &rng)
        let b = Self.random(k, n, &rng)
        let want = Self.naive(a, b)
        for (ta, tb) in [(Transpose.none, Transpose.none), (.transposed, .none), (.none, .transposed), (.transposed, .transposed)] {
            let aa = ta == .none ? a : a.transposed
            let bb = tb == .none ? b : b.transposed
            let got = matmul(aa, bb, transA: ta, transB: tb)
            #expect(got.rows == m && got.cols == n)
            for i in got.values.indices { #expect(abs(got.values[i] - want.values[i]) < 1e-4) }
        }
    }

    @Test("beta accumulates into the output")
    func accumulate() {
        let a = Matrix(rowArrays: [[1, 0], [0, 1]])
        var c = Matrix(rowArrays: [[1, 1], [1, 1]])
        gemm(a, a, transA: .none, transB: .none, into: &c, alpha: 2, beta: 1)
        #expect(c == Matrix(rowArrays: [[3, 1], [1, 3]]))
    }
}
