import RecModel
import RecWire

/// Runs one `TRAIN_ROUND` on a worker: resolves the data, restores the received state, evaluates
/// it when asked, then either runs H local steps and returns the new pack, or (finalizing) returns
/// a model checkpoint of the received state.
///
/// Never throws and never traps on bad input: every failure becomes `RoundReport.error` with an
/// empty body. CPU-bound; call it on a compute thread, never on the cooperative pool.
public enum RoundExecutor {
    /// The largest model a worker agrees to train, in parameters.
    public static let maximumParameters = MLP.maximumParameters

    /// Runs one round.
    /// - Parameters:
    ///   - assignment: The round's assignment.
    ///   - state: The state pack bytes (empty for round 1: initialise from the seed).
    ///   - dataset: The uploaded dataset bytes, when the assignment includes them.
    ///   - catalogue: The uploaded catalogue bytes, with the dataset of a job that has a schema.
    ///   - cache: The worker's dataset cache.
    /// - Returns: The report, and the new state pack (or the checkpoint when finalizing; empty on error).
    public static func run(
        assignment: RoundAssignment, state: [UInt8], dataset: [UInt8]?, catalogue: [UInt8]? = nil,
        cache: TrainingCache
    ) -> (report: RoundReport, body: [UInt8]) {
        var report = RoundReport(
            job: assignment.job, round: assignment.round, shard: assignment.shard, samples: 0, loss: nil,
            receivedStateSHA: sha256Hex(state), metrics: nil, epoch: 0, step: assignment.fromStep, totalSteps: 0,
            datasetSHA: "", error: nil)
        do throws(TrainingError) {
            let body = try execute(
                assignment, state: state, dataset: dataset, catalogue: catalogue, cache: cache, report: &report)
            return (report, body)
        } catch {
            report.error = error.description
            return (report, [])
        }
    }

    static func execute(
        _ a: RoundAssignment, state bytes: [UInt8], dataset: [UInt8]?, catalogue: [UInt8]?, cache: TrainingCache,
        report: inout RoundReport
    ) throws(TrainingError) -> [UInt8] {
        let spec = a.spec
        if let problem = spec.problem { throw .invalidAssignment(problem) }
        guard a.shards >= 1, (0..<a.shards).contains(a.shard) else {
            throw .invalidAssignment("shard \(a.shard) of \(a.shards)")
        }
        guard a.fromStep >= 0, a.steps >= 0 else { throw .invalidAssignment("fromStep and steps must be ≥ 0") }
        guard a.round >= 1 else { throw .invalidAssignment("round \(a.round): rounds are numbered from 1") }
        switch spec.model {
        case "mlp": break
        case "dqn": return try executeDQN(a, state: bytes, cache: cache, report: &report)
        default: throw .unsupportedModel("\(spec.model) training is not implemented on this worker")
        }

        let data = try resolve(a, bytes: dataset, catalogue: catalogue, cache: cache)
        report.datasetSHA = data.sha256
        let width = data.inputWidth
        guard let count = TrainingState.parameterCount(inputWidth: width, hiddenSizes: spec.hidden),
            count <= maximumParameters
        else {
            throw .invalidAssignment("the model for width \(width) is larger than \(maximumParameters) parameters")
        }

        let received: TrainingState
        if bytes.isEmpty {
            received = .initial(inputWidth: width, hiddenSizes: spec.hidden, seed: spec.seed)
        } else {
            let pack: ParameterPack
            do throws(WireError) {
                pack = try ParameterPack(decoding: bytes)
            } catch {
                throw .badState("\(error)")
            }
            received = try TrainingState(pack: pack, inputWidth: width, hiddenSizes: spec.hidden)
        }

        let rows = LocalSGD.shardRows(trainCount: data.split.train.count, shard: a.shard, shards: a.shards).count
        let perEpoch = LocalSGD.stepsPerEpoch(rows: rows, batch: spec.batch)
        report.totalSteps = perEpoch.multipliedSaturating(by: spec.epochs)  // the assignment's numbers
        report.step = min(a.fromStep, report.totalSteps)
        report.epoch = perEpoch > 0 ? report.step / perEpoch : 0
        if a.evaluate || a.finalize {
            report.metrics = ValidationMetrics.compute(model: received.model, split: data.split)
        }

        if a.finalize {
            let checkpoint = Checkpoint(
                version: 0, model: .mlp(received.model), featureSpec: data.featureSpec,
                metadata: [
                    "job": a.job, "trainer": "recpool train (local SGD)", "dataset": spec.dataset,
                    "dataset_sha256": data.sha256, "seed": "\(spec.seed)", "epochs": "\(spec.epochs)",
                    "batch": "\(spec.batch)", "learning_rate": "\(spec.lr)", "workers": "\(a.shards)",
                    "sync_every": "\(spec.syncEvery)", "adam_step": "\(received.optimizer.step)",
                    // The round whose state the file holds (restore_best may checkpoint an earlier round's than the
                    // last): each round runs `sync_every` steps a replica, the last one perhaps fewer.
                    "weights_round": "\(Self.round(ofStep: received.optimizer.step, syncEvery: spec.syncEvery))",
                ].merging(data.inputColumns.map { [Checkpoint.inputColumnsKey: Checkpoint.inputColumnsValue($0)] } ?? [:]) { a, _ in a })
            return checkpoint.encoded()
        }

        let outcome = LocalSGD.run(
            state: received, split: data.split, seed: spec.seed, shard: a.shard, shards: a.shards,
            epochs: spec.epochs, batch: spec.batch, learningRate: Float(spec.lr), fromStep: a.fromStep, steps: a.steps)
        let pack = outcome.state.pack
        try checkConverging(
            loss: outcome.loss, pack: pack, step: outcome.step,
            advice: { DivergenceAdvice.text(largestFeature: DivergenceAdvice.largestMagnitude(data.split.train.inputs), learningRate: spec.lr) })
        report.samples = outcome.samples
        report.loss = outcome.loss
        report.step = outcome.step
        report.epoch = perEpoch > 0 ? outcome.step / perEpoch : 0
        return pack.encoded()
    }

    /// The round after which a replica has run `step` steps: ⌈step / syncEvery⌉, 0 for the starting state.
    static func round(ofStep step: Int, syncEvery: Int) -> Int {
        syncEvery > 0 && step > 0 ? (step - 1) / syncEvery + 1 : 0
    }

    /// Refuses a round that diverged: it returns no state, since averaging NaN or infinite weights into the job
    /// would poison every replica, and the broker fails the job naming the round.
    /// - Parameter advice: what to do about it (``DivergenceAdvice``), computed only for a round that diverged.
    /// - Throws: ``TrainingError/diverged(_:)`` when `loss` (if any step measured one) or any weight or optimiser
    ///   moment is not finite.
    static func checkConverging(loss: Double?, pack: ParameterPack, step: Int, advice: () -> String)
        throws(TrainingError)
    {
        if let loss, !loss.isFinite {
            throw .diverged("the loss is \(loss) after local step \(step): \(advice())")
        }
        for vector in pack.vectors {
            if let index = vector.values.firstIndex(where: { !$0.isFinite }) {
                throw .diverged("\(vector.name)[\(index)] is \(vector.values[index]) after local step \(step): \(advice())")
            }
        }
    }

    /// The cache key of a job's resolved data: a shop's log is known by its bytes, its catalogue's and its
    /// schema's, all three.
    static func cacheKey(_ spec: TrainJobSpec) -> TrainingCache.Key {
        let identity =
            spec.schema.map { "\(spec.dataset)+\(spec.catalogue ?? "")+\(sha256Hex(Array($0.utf8)))" } ?? spec.dataset
        return TrainingCache.Key(dataset: identity, seed: spec.seed, validation: spec.validation)
    }

    /// Finds the round's data. Shipped bytes (the log in frame 3, the catalogue in frame 4) are kept by their
    /// own SHA-256; an upload is then resolved from the bytes, included or kept, so the same log trains
    /// under any schema or catalogue; a built-in is resolved by name. Resolved data is cached per
    /// ``cacheKey(_:)``.
    /// - Throws: ``TrainingError/unknownDataset(_:)`` when the job names bytes this worker was not sent
    ///   or has dropped (the broker then sends the round again with them), or a resolution error.
    static func resolve(_ a: RoundAssignment, bytes: [UInt8]?, catalogue: [UInt8]?, cache: TrainingCache)
        throws(TrainingError) -> ResolvedDataset
    {
        let spec = a.spec
        let key = cacheKey(spec)
        let named = spec.dataset.hasPrefix("sha256:") ? String(spec.dataset.dropFirst(7)).lowercased() : nil
        if a.datasetIncluded {
            guard let bytes, !bytes.isEmpty else {
                throw .badDataset("the assignment includes a dataset but the frame is empty")
            }
            let sha = sha256Hex(bytes)
            if let named, named != sha {
                throw .badDataset("the uploaded bytes hash to \(sha), the job names \(spec.dataset)")
            }
            cache.storeBlob(bytes)
            if let catalogue, !catalogue.isEmpty { cache.storeBlob(catalogue) }
        }
        if let hit = cache.resolved(key), named == nil || hit.sha256 == named { return hit }
        guard let named else {
            let resolved = try ResolvedDataset.builtIn(
                spec.dataset, seed: spec.seed, validationFraction: spec.validation, obdDirectory: cache.obdDirectory)
            cache.storeResolved(resolved, for: key)
            return resolved
        }
        let resolved: ResolvedDataset
        if let schema = spec.schema {
            guard let logs = cache.blob(sha256: named) else { throw notCached(spec.dataset) }
            let catalogueSHA = spec.catalogue.map {
                $0.hasPrefix("sha256:") ? String($0.dropFirst(7)).lowercased() : $0
            }
            let catalogueBytes = catalogueSHA.flatMap { cache.blob(sha256: $0) }
            if let name = spec.catalogue, catalogueBytes == nil, !a.datasetIncluded { throw notCached(name) }
            resolved = try ResolvedDataset.shopLogs(
                logs: logs, sha256: named, catalogue: catalogueBytes ?? catalogue,
                catalogueName: spec.catalogue ?? "", schema: schema, seed: spec.seed)
        } else {
            let upload: ParsedUpload
            if let parsed = cache.upload(sha256: named) {
                upload = parsed
            } else if let raw = cache.blob(sha256: named) {
                upload = try ResolvedDataset.labeledData(csv: raw, name: spec.dataset)
                cache.storeUpload(upload, sha256: named)
            } else {
                throw notCached(spec.dataset)
            }
            resolved = ResolvedDataset.upload(upload, sha256: named, seed: spec.seed, validationFraction: spec.validation)
        }
        cache.storeResolved(resolved, for: key)
        return resolved
    }

    /// The error of a round naming bytes this worker does not hold.
    static func notCached(_ name: String) -> TrainingError {
        .unknownDataset(
            "\(name) \(RoundReport.notCachedPhrase) (never sent, or dropped); the broker must include its bytes")
    }
}
