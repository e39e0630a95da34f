#if canImport(Glibc)
    import Glibc
#endif

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
    /// Heap allocations per call in steady state (`malloc`, `calloc`, `realloc` and the aligned
    /// variants, counted after warm-up), or `nil` when no allocation counter is loaded (see
    /// ``AllocationCounter``). Encoded as `null` then, never omitted.
    public var allocationsPerCall: Double?

    /// snake_case, as every other `--json` output writes its keys.
    private enum CodingKeys: String, CodingKey {
        case operation, batch, repeats, iterations
        case medianMicroseconds = "median_microseconds", allocationsPerCall = "allocations_per_call"
        case allocationsPerCallUndefined = "allocations_per_call_undefined"
    }

    /// Why ``allocationsPerCall`` is missing, or nil when it was counted.
    public var allocationsPerCallUndefined: String? {
        allocationsPerCall == nil ? Self.notCounted : nil
    }

    /// The reason beside a missing ``allocationsPerCall``.
    public static let notCounted =
        "not counted: no allocation counter is loaded (scripts/bench-model preloads one, bench/reference/malloc_count.c)"

    /// Creates a result.
    public init(
        operation: String, batch: Int, medianMicroseconds: Double, repeats: Int, iterations: Int,
        allocationsPerCall: Double?
    ) {
        self.operation = operation
        self.batch = batch
        self.medianMicroseconds = medianMicroseconds
        self.repeats = repeats
        self.iterations = iterations
        self.allocationsPerCall = allocationsPerCall
    }

    /// Decodes what ``encode(to:)`` writes (the reason is computed, so it is not read back).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        operation = try c.decode(String.self, forKey: .operation)
        batch = try c.decode(Int.self, forKey: .batch)
        medianMicroseconds = try c.decode(Double.self, forKey: .medianMicroseconds)
        repeats = try c.decode(Int.self, forKey: .repeats)
        iterations = try c.decode(Int.self, forKey: .iterations)
        allocationsPerCall = try c.decodeIfPresent(Double.self, forKey: .allocationsPerCall)
    }

    /// Encodes every key, `allocationsPerCall` as `null` when it was not counted, with the reason beside it
    /// (`allocationsPerCallUndefined`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(operation, forKey: .operation)
        try container.encode(batch, forKey: .batch)
        try container.encode(medianMicroseconds, forKey: .medianMicroseconds)
        try container.encode(repeats, forKey: .repeats)
        try container.encode(iterations, forKey: .iterations)
        try container.encode(allocationsPerCall, forKey: .allocationsPerCall)
        try container.encode(allocationsPerCallUndefined, forKey: .allocationsPerCallUndefined)
    }
}

/// Counts heap allocations through a counter preloaded into the process: `scripts/bench-model`
/// builds `bench/reference/malloc_count.c` into a shared library and runs the benchmark with it in
/// `LD_PRELOAD`; it wraps glibc's allocators and exports `recpool_malloc_count()`. Without it the
/// counter is absent and nothing is counted (`dlsym` finds no symbol).
public enum AllocationCounter {
    private typealias CountFunction = @convention(c) () -> UInt64

    private static let function: CountFunction? = {
        guard let symbol = dlsym(nil, "recpool_malloc_count") else { return nil }
        return unsafeBitCast(symbol, to: CountFunction.self)
    }()

    /// Allocations made by the process so far, or `nil` without the preloaded counter.
    public static var count: UInt64? { function?() }
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
        var workspace = ForwardWorkspace()
        for b in forwardBatches {
            let x = rows(b)
            var sink: Float = 0
            x.values.withUnsafeBufferPointer { input in
                results.append(
                    time("forward", batch: b) {
                        sink += model.forward(rows: b, input: input, workspace: &workspace) { $0[0] }
                    })
            }
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
        perCall.reserveCapacity(repeats)
        // Counted over one extra, untimed run of the calls, after the warm-up has sized every buffer.
        var allocations: Double? = nil
        if let before = AllocationCounter.count {
            let n = max(1, min(iterations, 1000))
            for _ in 0..<n { body() }
            if let after = AllocationCounter.count { allocations = Double(after &- before) / Double(n) }
        }
        for _ in 0..<repeats {
            let n = iterations
            let d = clock.measure { for _ in 0..<n { body() } }
            perCall.append(seconds(d) / Double(n) * 1e6)
        }
        perCall.sort()
        return BenchmarkResult(
            operation: operation, batch: batch, medianMicroseconds: perCall[perCall.count / 2],
            repeats: repeats, iterations: iterations, allocationsPerCall: allocations)
    }

    func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

@inline(never)
func blackHole(_ x: Float) {
    if x == .infinity * 0 { print(x) }
}
