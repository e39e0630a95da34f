import Foundation
import RecModel
import Testing

@testable import RecData

/// What the retrieval model is fitted to (``DistillationTarget``): for a scorer that returns probabilities, the
/// logit undoes the sigmoid, so a ranker whose logit is bilinear is fitted exactly, where a fit of its saturated
/// probabilities misranks the items that compete for the top.
@Suite("Distillation target: scores or their logits")
struct DistillationTargetTests {
    @Test("the logit is log(p / (1 − p)), clamped away from 0 and 1; score leaves the values as they are")
    func transform() {
        let logits = DistillationTarget.logit.transformed([0.5, 0.75, 0, 1])
        #expect(logits[0] == 0)
        #expect(abs(logits[1] - Float(log(3.0))) < 1e-6)
        #expect(abs(logits[2] - Float(log(1e-6 / (1 - 1e-6)))) < 1e-3 && logits[2] < -13)
        #expect(logits[3] > 13 && logits[3].isFinite)
        #expect(DistillationTarget.score.transformed([0.5, 0.75, 0, 1]) == [0.5, 0.75, 0, 1])
    }

    @Test("a sigmoid of a bilinear score: the logit fit ranks every user's top ten exactly, the probability fit does not")
    func saturatedSigmoid() throws {
        var rng = SplitMix64(seed: 5)
        func uniform() -> Float { Float(rng.next() % 2_001) / 1_000 - 1 }
        let (ns, nx, sw, xw) = (40, 400, 5, 4)
        let states = (0..<ns).map { _ in (0..<sw).map { _ in uniform() } }
        let items = (0..<(nx * xw)).map { _ in uniform() }
        let w = (0..<((sw + 1) * (xw + 1))).map { _ in 1.5 * uniform() }
        // The ranker: p = σ(logit), logit = [s; 1]ᵀ W [x; 1], large enough that a share of the probabilities sit near 0 or 1
        // (within Float's resolution of both, so no target ties the top).
        var logit = [Float]()
        for s in states {
            for j in 0..<nx {
                let x = Array(items[(j * xw)..<((j + 1) * xw)]) + [1]
                let shat = s + [1]
                var value: Float = 0
                for p in 0...sw { for k in 0...xw { value += shat[p] * w[p * (xw + 1) + k] * x[k] } }
                logit.append(value)
            }
        }
        let probabilities = logit.map { 1 / (1 + exp(-$0)) }
        #expect(probabilities.filter { $0 > 0.95 || $0 < 0.05 }.count > probabilities.count / 20)
        let matrix = Matrix(rows: nx, cols: xw, values: items)
        func recall(_ target: DistillationTarget) throws -> Double {
            let model = try BilinearRetrieval.distil(
                states: states, items: matrix, scores: target.transformed(probabilities), ridge: 1e-9)
            var kept = 0
            for (i, s) in states.enumerated() {
                let q = try model.query(state: s)
                let fitted = (0..<nx).map { j in
                    zip(q, model.embedding(item: items[(j * xw)..<((j + 1) * xw)])).reduce(0) { $0 + $1.0 * $1.1 }
                }
                let truth = Set((0..<nx).sorted { logit[i * nx + $0] > logit[i * nx + $1] }.prefix(10))
                kept += truth.intersection((0..<nx).sorted { fitted[$0] > fitted[$1] }.prefix(10)).count
            }
            return Double(kept) / Double(ns * 10)
        }
        let (byLogit, byScore) = (try recall(.logit), try recall(.score))
        #expect(byLogit == 1, "the logit fit kept \(byLogit) of the top tens")
        // Measured: 1.0 against 0.8625.
        #expect(byScore < 0.95, "the probability fit kept \(byScore)")
    }
}
