import Foundation
import RecModel
import RecStore
import RecWire

extension JobCoordinator {
    /// `models`: every version, oldest first.
    func listModels(_ call: ControlCall) throws {
        let views = try store.models().map { model throws(StoreError) in try view(model) }
        answer(call, .ok, document: WireJSON.encode(ModelList(models: views)))
    }

    /// `promote`: promotes a version and rolls it out. The checkpoint is read and verified before the
    /// promotion is stored: a corrupt blob is quarantined and the promotion refused, so "promoted"
    /// means "can be served".
    func promote(_ call: ControlCall) throws {
        guard let version = call.request.version else {
            answer(call, .badRequest, text: "promote needs `version`")
            return
        }
        let (model, bytes) = try verifiedCheckpoint(version)
        // The answer is built before anything changes: a registry row that cannot be shown fails the request with
        // nothing promoted, never a promotion applied and served while its client is told it failed.
        var shown = try view(model)
        try store.promote(version)
        publishRollout(model, bytes: bytes)
        shown.promoted = true
        answer(call, .ok, document: WireJSON.encode(shown))
    }

    /// `import`: registers a checkpoint (frame 2) as a version; the same content imported again is
    /// that version, and its blob is verified (or repaired).
    func importModel(_ call: ControlCall) throws {
        guard let checkpoint = call.extraFrames.first, checkpoint.starts(with: Array("RECPOOLM".utf8)) else {
            answer(call, .badRequest, text: "import needs a checkpoint a scoring replica can serve: frame 2 is not a RecPool checkpoint (from recpool fit)")
            return
        }
        // Registered means servable: a file every replica would refuse is not given a version. The content of a
        // registered version (a DQN job's checkpoint among them) may always be imported again to repair its blob.
        if try store.model(checkpointSHA: BlobStore.digest(checkpoint)) == nil,
            let problem = ServableCheckpoint.problem(checkpoint)
        {
            answer(call, .badRequest, text: "import needs a checkpoint a scoring replica can serve: \(problem)")
            return
        }
        // Writes the blob, or repairs a quarantined copy of the same content.
        let sha = try store.blobs.put(checkpoint)
        let version: UInt64
        if let existing = try store.model(checkpointSHA: sha) {
            // One content hash, one version: the same checkpoint imported again is that version.
            version = existing.version
            logger.info("model imported again; its blob is verified", metadata: ["model_version": "\(version)"])
            // Only servable bytes are rolled out (a version promoted before promotion checked that is not).
            if try store.promotedVersion() == version, ServableCheckpoint.problem(checkpoint, job: existing.job) == nil {
                publishRollout(existing, bytes: checkpoint)
            }
        } else {
            version = try store.registerModel(
                job: "", datasetSHA: "", hyperparameters: "{}", metrics: "{}", checkpointSHA: sha)
            logger.info("model imported", metadata: ["model_version": "\(version)"])
            try publishRegistry()
        }
        answer(call, .ok, document: WireJSON.encode(try store.model(version).map { model throws(StoreError) in try view(model) }))
    }

    /// `fetch`: a version's record, then its checkpoint bytes in frame 2.
    func fetch(_ call: ControlCall) throws {
        guard let version = call.request.version else {
            return answer(call, .badRequest, text: "fetch needs `version`, a model version")
        }
        guard let model = try store.model(version) else {
            return answer(call, .notFound, text: "no model version \(version)")
        }
        let bytes = try checkpointBytes(of: model)
        var reply = call.header.reply(status: .ok, modelVersion: version)
        reply.command = .control
        emit(.toClient(identity: call.identity, frames: [reply.encoded(), WireJSON.encode(try view(model)), bytes]))
    }

    /// `rollback`: promotes the version promoted before the current one.
    func rollback(_ call: ControlCall) throws {
        let version = try store.rollbackTarget()
        let (model, bytes) = try verifiedCheckpoint(version)
        // Built before anything changes, as `promote`'s answer is.
        var shown = try view(model)
        // Recorded as a rollback (not a promotion), so the next one walks further back through the history.
        let rolled = try store.rollback()
        guard rolled == version else {
            throw StoreError.database("the rollback target moved from version \(version) to \(rolled) while it was verified")
        }
        publishRollout(model, bytes: bytes)
        shown.promoted = true
        answer(call, .ok, document: WireJSON.encode(shown))
    }
}

extension JobCoordinator {
    /// A version's record and its checkpoint bytes, read and verified against the checkpoint's hash, then checked
    /// to be servable by a scoring replica (``ServableCheckpoint``).
    /// - Throws: ``StoreError/unknownModel(_:)``, or ``StoreError/corruptBlob(_:quarantined:)`` (importing the same
    ///   file repairs it); ``UnservableModel`` when the checkpoint's file is missing (answered CONFLICT naming the
    ///   version and the repair, never NOT_FOUND as if the version did not exist), or the bytes are intact but no
    ///   replica can serve them (a DQN job's checkpoint, or a version registered before import checked this).
    func verifiedCheckpoint(_ version: UInt64) throws -> (ModelRecord, [UInt8]) {
        guard let model = try store.model(version) else { throw StoreError.unknownModel(version) }
        return (model, try verifiedCheckpoint(model))
    }

    /// The checkpoint bytes of `model`, verified as the version's overload does.
    func verifiedCheckpoint(_ model: ModelRecord) throws -> [UInt8] {
        do {
            let bytes = try checkpointBytes(of: model)
            if let problem = ServableCheckpoint.problem(bytes, job: model.job) {
                throw UnservableModel(version: model.version, reason: problem)
            }
            return bytes
        } catch {
            logger.error(
                "the checkpoint of a model version cannot be served",
                metadata: ["model_version": "\(model.version)", "error": "\(error)"])
            throw error
        }
    }

    /// The checkpoint bytes of a registered version, verified against their hash.
    /// - Throws: ``MissingCheckpoint`` when the version's file is gone (answered CONFLICT naming the version and the
    ///   repair: NOT_FOUND would read as "no such version"), ``StoreError/corruptBlob(_:quarantined:)``.
    func checkpointBytes(of model: ModelRecord) throws -> [UInt8] {
        do {
            return try store.blobs.get(model.checkpointSHA)
        } catch .missingBlob {
            throw MissingCheckpoint(version: model.version, sha256: model.checkpointSHA)
        }
    }

    /// Tells the reactor to roll `model` (whose verified checkpoint is `bytes`) out to every scoring replica.
    func publishRollout(_ model: ModelRecord, bytes: [UInt8]) {
        let frames = [
            Header(command: .weights, modelVersion: model.version).encoded(),
            WireJSON.encode(WeightsNotice(version: model.version, sha256: model.checkpointSHA)), bytes,
        ]
        // Its width lets the broker refuse a SCORE of another width at once while workers move to this version.
        var inputWidth: Int? = nil
        if let checkpoint = try? Checkpoint(decoding: bytes), case .mlp(let mlp) = checkpoint.model {
            inputWidth = mlp.inputWidth
        }
        emit(.rollout(version: model.version, frames: frames, inputWidth: inputWidth))
    }

    /// Tells the reactor every registered version's checkpoint hash, so workers' claims are checked.
    /// - Throws: ``StoreError`` when the registry cannot be read; nothing is published, and the reactor keeps the
    ///   registry it has (at start: none, so the broker must not serve; see ``start(nowMs:)``).
    func publishRegistry() throws(StoreError) {
        let models = try store.models()
        emit(.registry(Dictionary(models.map { ($0.version, $0.checkpointSHA) }, uniquingKeysWith: { a, _ in a })))
    }

    /// Tells the reactor that `version` is promoted although its checkpoint cannot be read: no
    /// WEIGHTS go out, and workers without a registered model take no work until it is repaired.
    func publishUnavailableRollout(_ version: UInt64) {
        emit(.rollout(version: version, frames: []))
    }
}
