import Foundation

@testable import RecModel

/// A double-precision reference of the network, written with plain loops, for finite-difference
/// gradient checks. It is deliberately independent of the Float code paths under test.
enum DoubleReference {
    static func activate(_ z: Double, _ f: Activation) -> Double {
        switch f {
        case .identity: z
        case .relu: max(z, 0)
        case .sigmoid: 1 / (1 + exp(-z))
        }
    }

    /// `f(x·Wᵀ + b)` with `w` stored `out × in`.
    static func dense(x: [Double], rows: Int, w: [Double], b: [Double], inW: Int, outW: Int, f: Activation) -> [Double] {
        var y = [Double](repeating: 0, count: rows * outW)
        for r in 0..<rows {
            for j in 0..<outW {
                var s = b[j]
                for k in 0..<inW { s += x[r * inW + k] * w[j * inW + k] }
                y[r * outW + j] = activate(s, f)
            }
        }
        return y
    }

    /// Mean loss over elements; BCE takes logits.
    static func loss(_ loss: Loss, outputs: [Double], targets: [Double]) -> Double {
        var t = 0.0
        for i in outputs.indices {
            let p = outputs[i]
            let y = targets[i]
            switch loss {
            case .binaryCrossEntropy:
                t += -(y * log(1 / (1 + exp(-p))) + (1 - y) * log(1 - 1 / (1 + exp(-p))))
            case .meanSquaredError:
                t += (p - y) * (p - y)
            case .huber(let d):
                let r = abs(p - y)
                t += r <= Double(d) ? 0.5 * r * r : Double(d) * (r - 0.5 * Double(d))
            }
        }
        return t / Double(outputs.count)
    }

    /// The MLP's loss computed from its flat parameters, in Double.
    static func mlpLoss(_ mlp: MLP, flat: [Double], x: Matrix, targets: [Float], loss: Loss) -> Double {
        var h = x.values.map(Double.init)
        var o = 0
        for (i, layer) in mlp.layers.enumerated() {
            let nw = layer.weight.values.count
            let w = Array(flat[o..<(o + nw)])
            o += nw
            let b = Array(flat[o..<(o + layer.bias.count)])
            o += layer.bias.count
            let last = i == mlp.layers.count - 1
            let f: Activation = last && loss == .binaryCrossEntropy ? .identity : layer.activation
            h = dense(x: h, rows: x.rows, w: w, b: b, inW: layer.inputWidth, outW: layer.outputWidth, f: f)
        }
        return self.loss(loss, outputs: h, targets: targets.map(Double.init))
    }

    /// Central differences of `f` at `x`, step `h`.
    static func numericGradient(_ x: [Double], h: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
        var g = [Double](repeating: 0, count: x.count)
        var xp = x
        for i in x.indices {
            xp[i] = x[i] + h
            let fp = f(xp)
            xp[i] = x[i] - h
            let fm = f(xp)
            xp[i] = x[i]
            g[i] = (fp - fm) / (2 * h)
        }
        return g
    }

    /// `‖a − n‖ / max(‖a‖, ‖n‖, 1e-12)`: the relative error of an analytic gradient.
    static func relativeError(_ analytic: [Float], _ numeric: [Double]) -> Double {
        var d = 0.0, na = 0.0, nn = 0.0
        for i in analytic.indices {
            let a = Double(analytic[i])
            d += (a - numeric[i]) * (a - numeric[i])
            na += a * a
            nn += numeric[i] * numeric[i]
        }
        return d.squareRoot() / max(na.squareRoot(), nn.squareRoot(), 1e-12)
    }

    static func randomMatrix(_ rows: Int, _ cols: Int, _ rng: inout Xoshiro256, scale: Float = 1) -> Matrix {
        Matrix(rows: rows, cols: cols, values: (0..<(rows * cols)).map { _ in rng.nextFloat(in: -scale, scale) })
    }
}
