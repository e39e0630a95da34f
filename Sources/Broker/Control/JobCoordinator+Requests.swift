import Foundation
import RecStore
import Shared

extension JobCoordinator {
    /// Handles a client's CONTROL request and answers it.
    func handleClient(identity: [UInt8], message: WireMessage, userId: String?, nowMs: UInt64) {
        let header = message.header
        let request: ControlRequest
        do {
            request = try WireJSON.decode(ControlRequest.self, from: try message.frame(0))
        } catch {
            answer(identity, header, .badRequest, text: error.description)
            return
        }
        do {
            switch request.op {
            case "train":
                try submit(identity, header, request.train, nowMs: nowMs)
            case "upload":
                guard let chunk = request.upload, message.payload.count >= 2 else {
                    answer(identity, header, .badRequest, text: "upload needs an `upload` object and a bytes frame")
                    return
                }
                let complete = try store.appendUpload(
                    sha256: chunk.sha256, name: chunk.name, totalBytes: chunk.totalBytes, offset: chunk.offset,
                    chunk: message.payload[1], chunkSHA256: chunk.chunkSha256)
                answer(identity, header, .ok, document: WireJSON.encode(["complete": complete]))
            case "jobs":
                let views = try store.jobs().map { view($0, rounds: nil) }
                answer(identity, header, .ok, document: WireJSON.encode(JobList(jobs: views)))
            case "job":
                guard let id = request.job, let record = try store.job(id) else {
                    answer(identity, header, .notFound, text: "no job \(request.job ?? "(missing `job`)")")
                    return
                }
                answer(identity, header, .ok, document: WireJSON.encode(view(record, rounds: try store.rounds(of: id))))
            case "cancel_job":
                guard let id = request.job, var record = try store.job(id) else {
                    answer(identity, header, .notFound, text: "no job \(request.job ?? "(missing `job`)")")
                    return
                }
                if !record.state.isFinal {
                    record.state = .cancelled
                    try store.updateJob(record)
                    jobs[id] = nil
                    logger.info("job cancelled", metadata: ["job_id": "\(id)"])
                }
                answer(identity, header, .ok, document: WireJSON.encode(view(record, rounds: nil)))
            case "models":
                let views = try store.models().map(view)
                answer(identity, header, .ok, document: WireJSON.encode(ModelList(models: views)))
            case "promote":
                guard let version = request.version else {
                    answer(identity, header, .badRequest, text: "promote needs `version`")
                    return
                }
                // The checkpoint is read and verified before the promotion is stored: a corrupt blob
                // is quarantined and the promotion refused, so "promoted" means "can be served".
                let (model, bytes) = try verifiedCheckpoint(version)
                try store.promote(version)
                publishRollout(model, bytes: bytes)
                answer(identity, header, .ok, document: WireJSON.encode(try store.model(version).map(view)))
            case "import":
                guard message.payload.count >= 2, message.payload[1].starts(with: Array("RECPOOLM".utf8)) else {
                    answer(identity, header, .badRequest, text: "import needs a RecPool checkpoint (from recpool fit) in frame 2")
                    return
                }
                // Writes the blob, or repairs a quarantined copy of the same content.
                let sha = try store.blobs.put(message.payload[1])
                let version: UInt64
                if let existing = try store.model(checkpointSHA: sha) {
                    // One content hash, one version: the same checkpoint imported again is that version.
                    version = existing.version
                    logger.info("model imported again; its blob is verified", metadata: ["model_version": "\(version)"])
                    if try store.promotedVersion() == version { publishRollout(existing, bytes: message.payload[1]) }
                } else {
                    version = try store.registerModel(
                        job: "", datasetSHA: "", hyperparameters: "{}", metrics: "{}", checkpointSHA: sha)
                    logger.info("model imported", metadata: ["model_version": "\(version)"])
                    publishRegistry()
                }
                answer(identity, header, .ok, document: WireJSON.encode(try store.model(version).map(view)))
            case "fetch":
                guard let version = request.version, let model = try store.model(version) else {
                    answer(identity, header, .notFound, text: "no model version \(request.version.map(String.init) ?? "(missing `version`)")")
                    return
                }
                let bytes = try store.blobs.get(model.checkpointSHA)
                var reply = header.reply(status: .ok, modelVersion: version)
                reply.command = .control
                emit(.toClient(identity: identity, frames: [reply.encoded(), WireJSON.encode(view(model)), bytes]))
            case "rollback":
                let version = try store.rollbackTarget()
                let (model, bytes) = try verifiedCheckpoint(version)
                try store.promote(version)
                publishRollout(model, bytes: bytes)
                answer(identity, header, .ok, document: WireJSON.encode(try store.model(version).map(view)))
            default:
                answer(identity, header, .badRequest, text: "unknown CONTROL op \"\(request.op)\"")
            }
        } catch let error as StoreError {
            switch error {
            case .unknownJob, .unknownModel, .missingBlob: answer(identity, header, .notFound, text: error.description)
            case .nothingToRollBack, .badUpload, .corruptBlob:
                answer(identity, header, .conflict, text: error.description)
            default: answer(identity, header, .internal, text: error.description)
            }
        } catch {
            answer(identity, header, .internal, text: "\(error)")
        }
    }

    private func submit(_ identity: [UInt8], _ header: Header, _ spec: TrainJobSpec?, nowMs: UInt64) throws {
        guard let spec else {
            answer(identity, header, .badRequest, text: "train needs a `train` object")
            return
        }
        if let problem = spec.problem {
            answer(identity, header, .badRequest, text: problem)
            return
        }
        for (what, name) in [("dataset", spec.dataset), ("catalogue", spec.catalogue ?? "")] where name.hasPrefix("sha256:") {
            let sha = String(name.dropFirst(7))
            guard store.blobs.contains(sha) else {
                answer(identity, header, .notFound, text: "no uploaded \(what) \(sha)")
                return
            }
            try store.blobs.verify(sha)  // a corrupt copy is quarantined and refused: upload the file again
        }
        let id = "job-\(try store.nextSequence("job"))"
        let specText = String(decoding: WireJSON.encode(spec), as: UTF8.self)
        let record = JobRecord(id: id, model: spec.model, spec: specText, totalRounds: 0, createdAt: Double(nowMs) / 1000)
        try store.insertJob(record)  // durable before the client hears "accepted"
        jobs[id] = RunningJob(record: record, spec: spec, state: [], stateSHA: "")
        logger.info("job accepted", metadata: ["job_id": "\(id)", "dataset": "\(spec.dataset)", "workers": "\(spec.workers)"])
        answer(identity, header, .ok, document: WireJSON.encode(view(record, rounds: nil)))
        tick(nowMs: nowMs)
    }

    func answer(_ identity: [UInt8], _ request: Header, _ status: Status, document: [UInt8]) {
        var reply = request.reply(status: status)
        reply.command = .control
        emit(.toClient(identity: identity, frames: [reply.encoded(), document]))
    }

    func answer(_ identity: [UInt8], _ request: Header, _ status: Status, text: String) {
        let reply = WireMessage.errorReply(to: request, status: status, message: text)
        emit(.toClient(identity: identity, frames: reply.frames()))
    }

    func view(_ record: JobRecord, rounds: [RoundRecord]?) -> JobView {
        JobView(
            job: record.id, state: record.state.rawValue, model: record.model, round: record.round,
            totalRounds: record.totalRounds, epoch: record.epoch, step: record.step, loss: record.loss,
            metrics: Self.metrics(record.metrics), modelVersion: record.modelVersion, error: record.error,
            createdAt: record.createdAt, updatedAt: record.updatedAt,
            spec: try? WireJSON.decode(TrainJobSpec.self, from: Array(record.spec.utf8)),
            rounds: rounds?.map {
                JobView.Round(
                    round: $0.round, loss: $0.loss, samples: $0.samples, replicas: $0.replicas,
                    metrics: $0.metrics.map(Self.metrics), seconds: $0.seconds)
            })
    }

    func view(_ model: ModelRecord) -> ModelView {
        ModelView(
            version: model.version, job: model.job.isEmpty ? nil : model.job, promoted: model.promoted,
            metrics: Self.metrics(model.metrics).nilIfEmpty,
            datasetSha256: model.datasetSHA.isEmpty ? nil : model.datasetSHA,
            hyperparameters: try? WireJSON.decode(TrainJobSpec.self, from: Array(model.hyperparameters.utf8)),
            checkpointSha256: model.checkpointSHA, createdAt: model.createdAt)
    }

    static func metrics(_ text: String?) -> [String: Double] {
        guard let text, let values = try? WireJSON.decode([String: Double].self, from: Array(text.utf8)) else { return [:] }
        return values
    }
}

/// The reply to `jobs`.
public struct JobList: Codable, Sendable {
    /// Every job, oldest first.
    public var jobs: [JobView]
}

/// The reply to `models`.
public struct ModelList: Codable, Sendable {
    /// Every version, oldest first.
    public var models: [ModelView]
}

extension Dictionary {
    /// `nil` for an empty dictionary: a document says `null` rather than `{}` where nothing was measured.
    fileprivate var nilIfEmpty: Self? { isEmpty ? nil : self }
}
