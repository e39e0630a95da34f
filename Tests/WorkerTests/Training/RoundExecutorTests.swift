import Foundation
import RecData
import RecModel
import RecWire
import Testing
import Worker

@Suite("Round executor")
struct RoundExecutorTests {
    static let spec = TrainingFixtures.spec()

    /// One malformed round and the words its error must contain.
    struct BadInput: Sendable, CustomTestStringConvertible {
        var label: String
        var spec: TrainJobSpec
        var state: [UInt8] = []
        var included = true
        var message: String
        var testDescription: String { label }
    }

    static let badInputs: [BadInput] = [
        BadInput(
            label: "unknown dataset", spec: TrainingFixtures.spec(dataset: "nope"), included: false,
            message: "unknown dataset"),
        BadInput(
            label: "upload not cached",
            spec: TrainingFixtures.spec(dataset: "sha256:" + String(repeating: "0", count: 64)),
            included: false, message: "not cached"),
        BadInput(label: "bad pack", spec: spec, state: [1, 2, 3], message: "bad state"),
        BadInput(
            label: "empty pack", spec: spec, state: Array("RPK1".utf8) + [UInt8](repeating: 0, count: 12),
            message: "bad state"),
        BadInput(
            label: "bytes that do not match the name",
            spec: TrainingFixtures.spec(dataset: "sha256:" + String(repeating: "a", count: 64)),
            message: "hash to"),
        BadInput(
            label: "a path", spec: TrainingFixtures.spec(dataset: "/etc/passwd.csv"), included: false,
            message: "upload the CSV"),
        BadInput(
            // Too large at any width: the spec itself is refused (the broker refuses it at submission too).
            label: "an absurd model", spec: TrainingFixtures.spec(hidden: [65_536, 65_536]),
            message: "makes a model of at least"),
        BadInput(
            label: "more hidden layers than a checkpoint holds",
            spec: TrainingFixtures.spec(hidden: [Int](repeating: 1, count: TrainJobSpec.maximumHiddenLayers + 1)),
            message: "hidden lists 64 layers; at most 63 (a checkpoint holds 64 layers with the output)"),
        BadInput(
            label: "an unsupported model",
            spec: {
                var s = spec; s.model = "sgd"; return s
            }(), message: "model must be"),
        BadInput(
            label: "a synthetic dataset too large to simulate",
            spec: TrainingFixtures.spec(dataset: "synthetic:users=100,rows=1000000000"), included: false,
            message: "rows=1000000000: expected a whole number in 1...100000000"),
        BadInput(
            label: "a synthetic dataset larger than a worker simulates",
            spec: TrainingFixtures.spec(dataset: "synthetic:users=100,rows=90000000"), included: false,
            message: "larger than"),
        BadInput(label: "an invalid spec", spec: TrainingFixtures.spec(epochs: 0), message: "epochs"),
        BadInput(
            label: "a synthetic world whose topic count overflows",
            spec: TrainingFixtures.spec(dataset: "synthetic:topics=9223372036854775807"), included: false,
            message: "topics=9223372036854775807: expected a whole number in 1...64"),
        BadInput(
            label: "a DQN world whose item count overflows the state width",
            spec: {
                var s = TrainingFixtures.spec(dataset: "synthetic:items=9223372036854775807"); s.model = "dqn"; return s
            }(), included: false, message: "items=9223372036854775807: expected a whole number in 2...1000000"),
    ]

    @Test("Bad input becomes report.error with no body, never a crash", arguments: badInputs)
    func badInput(_ input: BadInput) {
        let a = TrainingFixtures.assignment(input.spec, steps: 5, state: input.state, included: input.included)
        let result = RoundExecutor.run(
            assignment: a, state: input.state, dataset: input.included ? TrainingFixtures.bytes : nil,
            cache: TrainingCache())
        #expect(result.body.isEmpty)
        #expect(result.report.error?.contains(input.message) == true, "\(result.report.error ?? "no error")")
    }

    @Test("the deepest hidden list a job may ask for finalizes to a checkpoint that decodes, with every layer")
    func deepestJobCheckpointDecodes() throws {
        let hidden = [Int](repeating: 2, count: TrainJobSpec.maximumHiddenLayers)
        let spec = TrainingFixtures.spec(hidden: hidden)
        #expect(spec.problem == nil)
        let result = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 0, finalize: true), state: [],
            dataset: TrainingFixtures.bytes, cache: TrainingCache())
        #expect(result.report.error == nil, "\(result.report.error ?? "")")
        let checkpoint = try Checkpoint(decoding: result.body)
        guard case .mlp(let model) = checkpoint.model else {
            Issue.record("expected an MLP checkpoint")
            return
        }
        #expect(model.layers.count == hidden.count + 1)
        // An uploaded matrix's header names the model's inputs, as `recpool fit` records them: `predict` refuses rows
        // whose columns come in another order (a helper's case: the pool's checkpoint scored them silently).
        #expect(try checkpoint.inputColumns() == ["a", "b", "c", "d"])
        // And from the cache, on a worker that parsed the upload for an earlier round.
        let cache = TrainingCache()
        _ = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 1), state: [], dataset: TrainingFixtures.bytes, cache: cache)
        let again = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 0, finalize: true, included: false), state: [],
            dataset: nil, cache: cache)
        #expect(try Checkpoint(decoding: again.body).inputColumns() == ["a", "b", "c", "d"])
    }

    @Test("A shard outside 0..<shards is refused")
    func badShard() {
        let a = TrainingFixtures.assignment(Self.spec, shard: 2, shards: 2, steps: 1)
        let result = RoundExecutor.run(
            assignment: a, state: [], dataset: TrainingFixtures.bytes, cache: TrainingCache())
        #expect(result.body.isEmpty)
        #expect(result.report.error?.contains("shard 2 of 2") == true)
    }

    @Test("A round numbered below 1 is refused, never trapping where its number becomes the reply's request id")
    func badRound() {
        let a = TrainingFixtures.assignment(Self.spec, round: -1, steps: 1)
        let result = RoundExecutor.run(assignment: a, state: [], dataset: TrainingFixtures.bytes, cache: TrainingCache())
        #expect(result.body.isEmpty)
        #expect(result.report.error?.contains("round -1: rounds are numbered from 1") == true, "\(result.report.error ?? "")")
    }

    @Test("A state pack whose step is near Int.max is refused as bad state, never trapping the optimiser's counter")
    func stepNearIntMax() throws {
        let first = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(Self.spec, steps: 1), state: [], dataset: TrainingFixtures.bytes,
            cache: TrainingCache())
        var pack = try ParameterPack(decoding: first.body)
        pack.step = UInt64(Int.max)
        let state = pack.encoded()
        let a = TrainingFixtures.assignment(Self.spec, steps: 3, state: state)
        let result = RoundExecutor.run(assignment: a, state: state, dataset: TrainingFixtures.bytes, cache: TrainingCache())
        #expect(result.body.isEmpty)
        #expect(result.report.error?.contains("step 9223372036854775807") == true, "\(result.report.error ?? "")")
    }

    @Test("A pack for another architecture is refused, naming the vector and the sizes")
    func wrongWidths() throws {
        let other = TrainingFixtures.spec(hidden: [3])
        let first = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(other, steps: 1), state: [], dataset: TrainingFixtures.bytes,
            cache: TrainingCache())
        let a = TrainingFixtures.assignment(Self.spec, steps: 1, state: first.body)
        let result = RoundExecutor.run(
            assignment: a, state: first.body, dataset: TrainingFixtures.bytes, cache: TrainingCache())
        #expect(result.body.isEmpty)
        #expect(result.report.error?.contains("\"params\"") == true, "\(result.report.error ?? "")")
    }

    @Test("Malformed CSV uploads are refused with the parser's message")
    func malformedCSV() {
        let bytes = Array("a,b\n1,2\n".utf8)
        let spec = TrainingFixtures.spec(dataset: "sha256:" + sha256Hex(bytes))
        let result = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 1), state: [], dataset: bytes, cache: TrainingCache())
        #expect(result.body.isEmpty)
        #expect(result.report.error?.contains("label") == true, "\(result.report.error ?? "")")
    }

    @Test("An upload sent once is found by its SHA-256 in later rounds; the report names it")
    func uploadCache() {
        let cache = TrainingCache()
        let first = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(Self.spec, steps: 2), state: [], dataset: TrainingFixtures.bytes,
            cache: cache)
        let second = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(
                Self.spec, round: 2, fromStep: 2, steps: 2, state: first.body, included: false),
            state: first.body, dataset: nil, cache: cache)
        #expect(second.report.error == nil)
        #expect(second.report.datasetSHA == sha256Hex(TrainingFixtures.bytes))
        #expect(!second.body.isEmpty)
    }

    @Test("Steps past the end are clamped; a round at the end trains nothing and returns the state")
    func clamped() throws {
        let cache = TrainingCache()
        let spec = TrainingFixtures.spec(epochs: 1)
        let all = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 1000), state: [], dataset: TrainingFixtures.bytes,
            cache: cache)
        #expect(all.report.step == 11 && all.report.totalSteps == 11 && all.report.epoch == 1)
        #expect(all.report.samples == 163)
        let after = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, fromStep: 11, steps: 5, state: all.body),
            state: all.body, dataset: TrainingFixtures.bytes, cache: cache)
        #expect(after.report.samples == 0)
        #expect(after.report.loss == nil)  // no row trained on: no loss measured, not a loss of 0
        #expect(all.report.loss.map { $0 > 0 && $0.isFinite } == true)
        #expect(after.body == all.body)
        let huge = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, fromStep: 3, steps: .max), state: [],
            dataset: TrainingFixtures.bytes, cache: cache)
        #expect(huge.report.error == nil && huge.report.step == 11 && huge.report.samples == 163 - 3 * 16)
    }

    @Test("A round that diverges (a weight not finite) reports 'training diverged' with no state, never NaN weights")
    func diverged() throws {
        let cache = TrainingCache()
        let spec = TrainingFixtures.spec(epochs: 1)
        let first = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 2), state: [], dataset: TrainingFixtures.bytes,
            cache: cache)
        var pack = try ParameterPack(decoding: first.body)
        // Finite but near Float's largest: the first products overflow, so the step itself diverges. (A received state
        // that is already infinite is a bad state, not a divergence: ReceivedStateTests.)
        for index in pack.vectors[0].values.indices { pack.vectors[0].values[index] = 3e38 }
        let poisoned = pack.encoded()
        let next = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, fromStep: 2, steps: 2, state: poisoned), state: poisoned,
            dataset: TrainingFixtures.bytes, cache: cache)
        #expect(next.body.isEmpty)
        #expect(next.report.error?.contains("training diverged") == true, "\(next.report.error ?? "no error")")
        pack.vectors[0].values[0] = .infinity
        let infinite = pack.encoded()
        let refused = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, fromStep: 2, steps: 2, state: infinite), state: infinite,
            dataset: TrainingFixtures.bytes, cache: cache)
        #expect(refused.body.isEmpty)
        #expect(refused.report.error?.contains("holds inf at index 0") == true, "\(refused.report.error ?? "no error")")
    }

    @Test("A built-in synthetic dataset trains, reports cold and warm metrics and embeds its FeatureSpec")
    func builtInSynthetic() throws {
        let spec = TrainingFixtures.spec(
            dataset: "synthetic:users=1000,items=6,seed=3,warm=0.3", epochs: 1, batch: 32, hidden: [8])
        let cache = TrainingCache()
        let first = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 4, evaluate: true, included: false),
            state: [], dataset: nil, cache: cache)
        #expect(first.report.error == nil, "\(first.report.error ?? "")")
        #expect(first.report.datasetSHA == sha256Hex(Array(spec.dataset.utf8)))
        let metrics = try #require(first.report.metrics)
        for key in ["val_loss", "auc", "accuracy", "log_loss", "accuracy_cold", "accuracy_warm", "log_loss_cold"] {
            #expect(metrics[key] != nil, "missing \(key) in \(metrics.keys.sorted())")
        }
        // `auc_cold` and `auc_warm` are always listed: `null` unless both classes are among the segment's rows.
        #expect(metrics.keys.contains("auc_cold") && metrics.keys.contains("auc_warm"))
        let final = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(
                spec, round: 2, fromStep: 4, steps: 0, state: first.body, finalize: true, included: false),
            state: first.body, dataset: nil, cache: cache)
        let checkpoint = try Checkpoint(decoding: final.body)
        let featureSpec = try FeatureSpec.decode(checkpoint.featureSpec)
        #expect(featureSpec.width == checkpoint.model.network.inputWidth)
    }

    @Test("The OBD sample (committed fixture) resolves to click labels and a FeatureSpec fitted on the training rows")
    func builtInOBD() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { root.deleteLastPathComponent() }
        let cache = TrainingCache(obdDirectory: root.path + "/Tests/DataTests/Fixtures/obd")
        let spec = TrainingFixtures.spec(dataset: "obd:random/men", epochs: 1, batch: 64, hidden: [8])
        let result = RoundExecutor.run(
            assignment: TrainingFixtures.assignment(spec, steps: 3, evaluate: true, included: false),
            state: [], dataset: nil, cache: cache)
        #expect(result.report.error == nil, "\(result.report.error ?? "")")
        #expect(result.report.samples == 3 * 64)
        let metrics = try #require(result.report.metrics)
        #expect(metrics["val_rows"] == 40)  // 400 rows split by time: 240 train, 40 validation, 120 test left out
        #expect((metrics["auc"] ?? nil) != nil && (metrics["val_loss"] ?? nil) != nil)
        let resolved = try #require(
            cache.resolved(.init(dataset: spec.dataset, seed: spec.seed, validation: spec.validation)))
        let featureSpec = try FeatureSpec.decode(resolved.featureSpec)
        #expect(featureSpec.width == resolved.inputWidth)
        #expect(resolved.split.train.count == 240 && resolved.split.validation.count == 40)
    }

    @Test("an empty validation split keeps every metric key of those rows as null, not only val_rows (docs/TRAINING.md)")
    func emptyValidationKeepsEveryKey() throws {
        let train = LabeledData(
            inputs: Matrix(rows: 4, cols: 2, values: [0, 1, 1, 0, 0.5, 0.5, 1, 1]), targets: [0, 1, 0, 1])
        let empty = LabeledData(inputs: Matrix(rows: 0, cols: 2, values: []), targets: [])
        let split = TrainingSplit(train: train, validation: empty, seed: 1, validationCold: [])
        let metrics = ValidationMetrics.compute(model: MLP(inputWidth: 2, hiddenSizes: [4], seed: 1), split: split)
        #expect(metrics["val_rows"] == 0 && metrics["val_rows_cold"] == 0 && metrics["val_rows_warm"] == 0)
        let undefined = ["val_loss", "constant_log_loss", "beats_constant"]
            + ["auc", "pr_auc", "accuracy", "log_loss"].flatMap { [$0, $0 + "_cold", $0 + "_warm"] }
        for key in undefined {
            #expect(metrics[key] == .some(nil), "\(key) is \(String(describing: metrics[key]))")
        }
        // The training rows' click rate is theirs, defined whatever the validation split holds (it was null, "no
        // validation rows").
        #expect(metrics["train_click_rate"] == .some(0.5))
    }

    @Test("validation rows of one class keep auc and pr_auc as null, through the wire, not a missing key")
    func singleClassValidationKeepsUndefinedMetrics() throws {
        func data(_ rows: Int, clicks: Set<Int>) -> LabeledData {
            LabeledData(
                inputs: Matrix(rows: rows, cols: 2, values: (0..<(2 * rows)).map { Float($0 % 7) / 7 }),
                targets: (0..<rows).map { clicks.contains($0) ? 1 : 0 })
        }
        // Training rows with both classes; validation rows without a click; the warm segment has no row.
        let split = TrainingSplit(
            train: data(20, clicks: [1, 5, 9]), validation: data(6, clicks: []), seed: 1,
            validationCold: Array(repeating: true, count: 6))
        let metrics = ValidationMetrics.compute(model: MLP(inputWidth: 2, hiddenSizes: [4], seed: 1), split: split)
        for key in ["auc", "pr_auc", "auc_cold", "pr_auc_cold", "auc_warm", "pr_auc_warm", "log_loss_warm"] {
            #expect(metrics.keys.contains(key), "missing \(key) in \(metrics.keys.sorted())")
            #expect(metrics[key] == .some(nil), "\(key) is \(String(describing: metrics[key]))")
        }
        #expect((metrics["log_loss"] ?? nil)?.isFinite == true && metrics["val_rows"] == 6)
        // The report crosses the wire (and is stored as JSON text by the broker) with the keys as null.
        let report = RoundReport(
            job: "j", round: 2, shard: 0, samples: 0, loss: 0.5, receivedStateSHA: "", metrics: metrics, epoch: 1,
            step: 1, totalSteps: 2, datasetSHA: "d", error: nil)
        #expect(report.problem == nil)
        let frame = WireJSON.encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(frame)) as? [String: Any])
        let sent = try #require(object["metrics"] as? [String: Any])
        #expect(sent["auc"] is NSNull && sent["pr_auc"] is NSNull)
        #expect(try WireJSON.decode(RoundReport.self, from: frame).metrics == metrics)
    }
}
