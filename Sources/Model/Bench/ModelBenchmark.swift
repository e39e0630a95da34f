/// One timed operation of ``ModelBenchmark``.
public struct BenchmarkResult: Sendable, Equatable, Codable {
    /// What was timed, e.g. `forward` or `train_step`.
    public var operation: String
    /// Rows per call.
    public var batch: Int
    /// Median over repeats of the mean time per call, in microseconds.
    public var medianMicroseconds: Double
    /// Repeats taken.
    public var repeats: Int
    /// Calls per repeat.
    public var iterations: Int
}

/// Times the interest model's hot paths: batch inference at several batch sizes and one
/// training step (forward, backward, Adam) at batch 32.
///
/// Each case is warmed up, then timed `repeats` times over enough calls to last about
/// `targetSeconds`; the median of the per-call means is reported.
public struct ModelBenchmark: Sendable {
    /// Input width (106 for the OBD features).
    public var inputWidth: Int
    /// Batches for the forward pass.
    public var forwardBatches: [Int]
    /// Batch for the training step.
    public var trainBatch: Int
    /// Timed repeats per case.
    public var repeats: Int
    /// Approximate length of one repeat.
    public var targetSeconds: Double

    /// Creates a benchmark with RecPool's defaults.
    public init(inputWidth: Int = 106, forwardBatches: [Int] = [1, 32, 256, 4096], trainBatch: Int = 32, repeats: Int = 7, targetSeconds: Double = 0.2) {
        self.inputWidth = inputWidth
        self.forwardBatches = forwardBatches
        self.trainBatch = trainBatch
        self.repeats = repeats
        self.targetSeconds = targetSeconds
    }

    /// Runs every case.
    public func run() -> [BenchmarkResult] {
        let model = MLP(inputWidth: inputWidth, seed: 1)
        var rng = Xoshiro256(seed: 2)
        func rows(_ n: Int) -> Matrix {
            Matrix(rows: n, cols: inputWidth, values: (0..<(n * inputWidth)).map { _ in rng.nextFloat(in: -1, 1) })
        }
        var results: [BenchmarkResult] = []
        for b in forwardBatches {
            let x = rows(b)
            var sink: Float = 0
            results.append(time("forward", batch: b) { sink += model.predict(x)[0] })
            blackHole(sink)
        }
        let x = rows(trainBatch)
        let batch = LabeledData(inputs: x, targets: (0..<trainBatch).map { _ in Float(rng.nextInt(below: 2)) })
        var trainer = MLPTrainer(model: model)
        var sink: Float = 0
        results.append(time("train_step", batch: trainBatch) { sink += trainer.step(batch) })
        blackHole(sink)
        return results
    }

    func time(_ operation: String, batch: Int, _ body: () -> Void) -> BenchmarkResult {
        let clock = ContinuousClock()
        // Warm up and calibrate.
        var iterations = 1
        while true {
            let d = clock.measure { for _ in 0..<iterations { body() } }
            if seconds(d) > targetSeconds / 10 || iterations > 1 << 24 {
                iterations = max(1, Int(Double(iterations) * targetSeconds / max(seconds(d), 1e-9)))
                break
            }
            iterations *= 4
        }
        var perCall: [Double] = []
        for _ in 0..<repeats {
            let n = iterations
            let d = clock.measure { for _ in 0..<n { body() } }
            perCall.append(seconds(d) / Double(n) * 1e6)
        }
        perCall.sort()
        return BenchmarkResult(
            operation: operation, batch: batch, medianMicroseconds: perCall[perCall.count / 2],
            repeats: repeats, iterations: iterations)
    }

    func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

@inline(never)
func blackHole(_ x: Float) {
    if x == .infinity * 0 { print(x) }
}
