import Foundation
import RecStore
import RecWire

extension JobCoordinator {
    /// `models`: every version, oldest first.
    func listModels(_ call: ControlCall) throws {
        let views = try store.models().map(view)
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
        try store.promote(version)
        publishRollout(model, bytes: bytes)
        answer(call, .ok, document: WireJSON.encode(try store.model(version).map(view)))
    }

    /// `import`: registers a checkpoint (frame 2) as a version; the same content imported again is
    /// that version, and its blob is verified (or repaired).
    func importModel(_ call: ControlCall) throws {
        guard let checkpoint = call.extraFrames.first, checkpoint.starts(with: Array("RECPOOLM".utf8)) else {
            answer(call, .badRequest, text: "import needs a RecPool checkpoint (from recpool fit) in frame 2")
            return
        }
        // Writes the blob, or repairs a quarantined copy of the same content.
        let sha = try store.blobs.put(checkpoint)
        let version: UInt64
        if let existing = try store.model(checkpointSHA: sha) {
            // One content hash, one version: the same checkpoint imported again is that version.
            version = existing.version
            logger.info("model imported again; its blob is verified", metadata: ["model_version": "\(version)"])
            if try store.promotedVersion() == version { publishRollout(existing, bytes: checkpoint) }
        } else {
            version = try store.registerModel(
                job: "", datasetSHA: "", hyperparameters: "{}", metrics: "{}", checkpointSHA: sha)
            logger.info("model imported", metadata: ["model_version": "\(version)"])
            publishRegistry()
        }
        answer(call, .ok, document: WireJSON.encode(try store.model(version).map(view)))
    }

    /// `fetch`: a version's record, then its checkpoint bytes in frame 2.
    func fetch(_ call: ControlCall) throws {
        guard let version = call.request.version, let model = try store.model(version) else {
            let named = call.request.version.map(String.init) ?? "(missing `version`)"
            answer(call, .notFound, text: "no model version \(named)")
            return
        }
        let bytes = try store.blobs.get(model.checkpointSHA)
        var reply = call.header.reply(status: .ok, modelVersion: version)
        reply.command = .control
        emit(.toClient(identity: call.identity, frames: [reply.encoded(), WireJSON.encode(view(model)), bytes]))
    }

    /// `rollback`: promotes the version promoted before the current one.
    func rollback(_ call: ControlCall) throws {
        let version = try store.rollbackTarget()
        let (model, bytes) = try verifiedCheckpoint(version)
        try store.promote(version)
        publishRollout(model, bytes: bytes)
        answer(call, .ok, document: WireJSON.encode(try store.model(version).map(view)))
    }
}
