import Foundation
import RecData
import RecStore
import RecWire

extension JobCoordinator {
    /// Handles a client's CONTROL request and answers it (the router's path, for tests that hand in a message).
    func handleClient(identity: [UInt8], message: WireMessage, userId: String?, nowMs: UInt64) {
        do {
            handle(try ControlCall(identity: identity, message: message), nowMs: nowMs)
        } catch {
            answer(identity, message.header, error.status, text: error.text)
        }
    }

    /// Answers a decoded CONTROL request, one function per operation. A store error becomes the
    /// status that names it (NOT_FOUND, CONFLICT, INTERNAL).
    func handle(_ call: ControlCall, nowMs: UInt64) {
        do {
            switch call.operation {
            case .train: try submit(call.identity, call.header, call.request.train, nowMs: nowMs)
            case .upload: try upload(call)
            case .jobs: try listJobs(call)
            case .job: try showJob(call)
            case .cancelJob: try cancelJob(call)
            case .models: try listModels(call)
            case .promote: try promote(call)
            case .importModel: try importModel(call)
            case .fetch: try fetch(call)
            case .rollback: try rollback(call)
            case .drain, .online, .onlineFreeze, .onlineUnfreeze, .onlineSync, .onlinePolicy, .impressions, .onlineRegister,
                .catalogueUpload, .catalogues, .catalogue, .catalogueAdd, .catalogueRetire:
                // Another part of the broker answers these; the router never sends them here.
                answer(call, .badRequest, text: "unknown CONTROL op \"\(call.request.op)\"")
            }
        } catch let error as StoreError {
            switch error {
            case .unknownJob, .unknownModel, .missingBlob: answer(call, .notFound, text: error.description)
            case .nothingToRollBack, .badUpload, .corruptBlob: answer(call, .conflict, text: error.description)
            default: answer(call, .internal, text: error.description)
            }
        } catch let error as UnservableModel {
            answer(call, .conflict, text: error.description)
        } catch let error as MissingCheckpoint {
            answer(call, .conflict, text: error.description)
        } catch {
            answer(call, .internal, text: "\(error)")
        }
    }

    /// Why a job's dataset name cannot be trained on, or `nil`; an upload (`sha256:`) is checked against the store
    /// afterwards. The workers resolve the same names (`DatasetSpecifier`), so a name they would refuse at round 1
    /// is refused here, before the job is stored.
    static func datasetProblem(_ spec: TrainJobSpec) -> String? {
        // A DQN trains in the simulator whatever the dataset names: an upload was accepted and failed at round 1 as
        // an "unknown dataset".
        if spec.model == "dqn" && spec.dataset.hasPrefix("sha256:") {
            return "dataset '\(spec.dataset)': a dqn job trains in the simulator, not on an upload; use synthetic:KEY=VALUE,…"
        }
        guard !spec.dataset.hasPrefix("sha256:") else { return nil }
        let expected = "expected sha256:<hex> of an upload, obd:{random,bts}/{all,men,women} or synthetic:KEY=VALUE,…"
        let specifier: DatasetSpecifier
        do throws(DataError) {
            specifier = try DatasetSpecifier(parsing: spec.dataset)
        } catch {
            return "dataset '\(spec.dataset)': \(expected) (\(error.description))"
        }
        switch specifier {
        case .csv:
            return "dataset '\(spec.dataset)': \(expected) (a worker reads no file by path: upload it; recpool train does)"
        case .obd where spec.model == "dqn":
            return "dataset '\(spec.dataset)': a dqn job trains in the simulator; use synthetic:KEY=VALUE,…"
        case .obd, .synthetic:
            return nil
        }
    }

    /// `train`: validates the spec, stores the job and answers its view; the job is durable before
    /// the client hears "accepted".
    private func submit(_ identity: [UInt8], _ header: Header, _ spec: TrainJobSpec?, nowMs: UInt64) throws {
        guard var spec else {
            answer(identity, header, .badRequest, text: "train needs a `train` object")
            return
        }
        if let problem = spec.problem ?? Self.datasetProblem(spec) ?? Self.validationProblem(spec) {
            answer(identity, header, .badRequest, text: problem)
            return
        }
        for (what, name) in [("dataset", spec.dataset), ("catalogue", spec.catalogue ?? "")] where name.hasPrefix("sha256:") {
            let sha = String(name.dropFirst(7))
            guard store.blobs.contains(sha) else {
                answer(identity, header, .notFound, text: "no uploaded \(what) \(sha)")
                return
            }
            // Read whole: a corrupt copy is quarantined and refused (upload the file again), and a file with no row
            // (stored before uploads were checked) is refused now, not at round 1 as "the frame is empty".
            if let problem = Self.rowlessProblem(try store.blobs.get(sha)) {
                answer(identity, header, .badRequest, text: "uploaded \(what) \(name) \(problem): nothing to train on")
                return
            }
        }
        spec.validation = Self.heldOutFraction(spec)  // what the job's hyperparameters record
        let id = "job-\(try store.nextSequence("job"))"
        let specText = String(decoding: WireJSON.encode(spec), as: UTF8.self)
        let record = JobRecord(id: id, model: spec.model, spec: specText, totalRounds: 0, createdAt: Double(nowMs) / 1000)
        try store.insertJob(record)  // durable before the client hears "accepted"
        logger.info("job accepted", metadata: ["job_id": "\(id)", "dataset": "\(spec.dataset)", "workers": "\(spec.workers)"])
        answer(identity, header, .ok, document: WireJSON.encode(try view(record, rounds: nil)))
        var job = JobCore.RunningJob(record: record, spec: spec, state: [], stateSHA: "")
        job.uploadNames = uploadNames(of: spec)
        run(.accepted(job), nowMs: nowMs)
    }

    /// The names the job's uploaded files were uploaded under, by SHA-256 (a file with no recorded name is left out;
    /// so is one whose name the store cannot read, which is logged: a label, never worth failing the job over).
    func uploadNames(of spec: TrainJobSpec) -> [String: String] {
        var names: [String: String] = [:]
        for file in JobCore.uploadedFiles(spec) {
            do {
                names[file] = try store.datasetName(sha256: file)
            } catch {
                logger.warning(
                    "an uploaded file's name cannot be read from the store; the job shows it by SHA-256",
                    metadata: ["sha256": "\(file)", "error": "\(error)"])
            }
        }
        return names
    }

    /// Why the spec's `validation` cannot apply, or nil: a log is split by time and a dqn job trains in the simulator,
    /// so a fraction other than the default (0.2, what clients send unless told) or a log's own (0.1) would be
    /// silently ignored.
    static func validationProblem(_ spec: TrainJobSpec) -> String? {
        let fraction = spec.validation
        if spec.model == "dqn" {
            return fraction == 0.2 ? nil : "train.validation holds out rows of a feature matrix; a dqn job trains in the simulator"
        }
        guard heldOutFraction(spec) != fraction, fraction != 0.2 else { return nil }
        return "train.validation \(fraction): a log is split by time (the oldest 60% train, the next 10% validation, the "
            + "newest 30% test); validation holds out rows of a feature matrix"
    }

    /// The fraction of rows the job validates on: a log (a shop's log with a schema, `obd:`, or a `synthetic:`
    /// log for an MLP) is split by time, ``RecData/DatasetSplit/standard`` (validation = 1 − train − test);
    /// a feature matrix holds out the spec's `validation` at random.
    static func heldOutFraction(_ spec: TrainJobSpec) -> Double {
        let isLog =
            spec.schema != nil || spec.dataset.hasPrefix("obd:")
            || (spec.dataset.hasPrefix("synthetic:") && spec.model != "dqn")
        guard isLog else { return spec.validation }
        let split = DatasetSplit.standard
        return ((1 - split.train - split.test) * 1_000_000).rounded() / 1_000_000
    }

    /// `upload`: stores one checksummed chunk; answers whether the upload is complete.
    private func upload(_ call: ControlCall) throws {
        guard let chunk = call.request.upload, let bytes = call.extraFrames.first else {
            answer(call, .badRequest, text: "upload needs an `upload` object and a bytes frame")
            return
        }
        // Sizes and offsets are counts of bytes: a negative one is a malformed request, named by its key, never a
        // chunk that "fails its checksum".
        for (key, value) in [("upload.total_bytes", chunk.totalBytes), ("upload.offset", chunk.offset)] where value < 0 {
            return answer(call, .badRequest, text: "\(key) must be an integer ≥ 0, got \(value)")
        }
        guard chunk.totalBytes <= WireLimits.maximumShippedBytes else {
            // A training round ships the whole file to each worker in one message.
            return answer(
                call, .badRequest,
                text: "an upload holds at most \(WireLimits.maximumShippedBytes) bytes (a worker is sent it whole), "
                    + "got total_bytes \(chunk.totalBytes)")
        }
        // A file with no row is refused before anything is stored: every upload (a dataset, a shop's log, a
        // catalogue) is a CSV with a header and rows, and one without rows would be acknowledged complete only for
        // `train` to fail later. The whole content arrives in one chunk unless it is large, and then it has rows.
        if chunk.totalBytes == 0 || (chunk.offset == 0 && bytes.count == chunk.totalBytes) {
            if let problem = Self.rowlessProblem(bytes) {
                return answer(call, .badRequest, text: "upload \(chunk.name) \(problem): upload a file with rows")
            }
        }
        let complete = try store.appendUpload(
            sha256: chunk.sha256, name: chunk.name, totalBytes: chunk.totalBytes, offset: chunk.offset,
            chunk: bytes, chunkSHA256: chunk.chunkSha256)
        answer(call, .ok, document: WireJSON.encode(["complete": complete]))
    }

    /// Why an upload's whole content has no row to train on, or nil: it is empty (0 bytes), or holds no line but a
    /// header (white space and blank lines aside). Every upload is a CSV whose first line is its header.
    static func rowlessProblem(_ content: [UInt8]) -> String? {
        guard !content.isEmpty else { return "is empty (0 bytes)" }
        var lines = 0
        // A line ends in LF, CRLF or a lone CR (the CSV reader takes all three): split on LF alone, a file of CR endings
        // was one line, "a header and no row", though `recpool fit` trained on its rows.
        for line in content.split(whereSeparator: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") })
        where line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) {
            lines += 1
            if lines > 1 { return nil }
        }
        return lines == 0 ? "holds only white space (\(content.count) bytes), no row" : "holds a header and no row"
    }

    /// `jobs`: every job, oldest first.
    private func listJobs(_ call: ControlCall) throws {
        let views = try store.jobs().map { record throws(StoreError) in try view(record, rounds: nil) }
        answer(call, .ok, document: WireJSON.encode(JobList(jobs: views)))
    }

    /// `job`: one job with its rounds.
    private func showJob(_ call: ControlCall) throws {
        guard let id = call.request.job else {
            return answer(call, .badRequest, text: "\(call.operation.rawValue) needs `job`, a job id")
        }
        guard let record = try store.job(id) else { return answer(call, .notFound, text: "no job \(id)") }
        answer(call, .ok, document: WireJSON.encode(try view(record, rounds: try store.rounds(of: id))))
    }

    /// `cancel_job`: a job not yet final is cancelled, durably; answers its view either way.
    private func cancelJob(_ call: ControlCall) throws {
        guard let id = call.request.job else {
            return answer(call, .badRequest, text: "\(call.operation.rawValue) needs `job`, a job id")
        }
        guard var record = try store.job(id) else { return answer(call, .notFound, text: "no job \(id)") }
        if !record.state.isFinal {
            record.state = .cancelled
            try store.updateJob(record)
            run(.cancelled(id), nowMs: 0)
            // An ended job keeps no round state (docs/OPERATIONS.md, "Disk"): a cancelled one kept its last two until
            // the broker restarted.
            releaseRoundStates(of: id, ended: true)
            logger.info("job cancelled", metadata: ["job_id": "\(id)"])
        }
        answer(call, .ok, document: WireJSON.encode(try view(record, rounds: nil)))
    }

    func answer(_ call: ControlCall, _ status: Status, document: [UInt8]) {
        answer(call.identity, call.header, status, document: document)
    }

    func answer(_ call: ControlCall, _ status: Status, text: String) {
        answer(call.identity, call.header, status, text: text)
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
