import RecStore
import RecWire

extension JobCoordinator {
    /// The view of a job. A record whose last change the store could not write is shown as the
    /// coordinator holds it, its `error` saying that it is not stored durably.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` when a stored JSON column (the spec, the
    ///   metrics of the job or of a round) does not decode: it is never shown as absent.
    func view(_ stored: JobRecord, rounds: [RoundRecord]?) throws(StoreError) -> JobView {
        var record = stored
        if let unsaved = core.unsavedJobs[stored.id] {
            record = unsaved.record
            var note = "not stored durably: \(unsaved.error)"
            // The store still holds the job as it was: a job that failed for the store's sake (a full disk) but is
            // stored running resumes at the broker's next start, and may still complete (and promote, if asked).
            if record.state == .failed || record.state == .cancelled, stored.state == .running || stored.state == .queued {
                note += "; the state directory still records it as \(stored.state.rawValue), so the broker's next start "
                    + "resumes it"
            }
            record.error = record.error.map { "\($0); \(note)" } ?? note
        }
        let key = "id = \(String(reflecting: record.id))"
        // A job with no live training worker waited in silence, `queued` or `running` with no error, for as long as
        // none came: it says why.
        let draining = core.drainingTrainers == 0 ? "" : " (\(core.drainingTrainers) draining, which take no new round)"
        let waiting =
            (record.state == .queued || record.state == .running) && core.workers.isEmpty
            ? "no live worker offers TRAIN_ROUND\(draining); the job continues when one registers" : nil
        return JobView(
            job: record.id, state: record.state.rawValue, model: record.model, round: record.round,
            totalRounds: record.totalRounds, epoch: record.epoch, step: record.step, loss: record.loss,
            metrics: try StoredJSON.metrics(record.metrics, table: "jobs", row: key, column: "metrics"),
            modelVersion: record.modelVersion, error: record.error, createdAt: record.createdAt,
            updatedAt: record.updatedAt,
            spec: try StoredJSON.decode(TrainJobSpec.self, from: record.spec, table: "jobs", row: key, column: "spec"),
            rounds: try rounds?.map { round throws(StoreError) in
                let key = "job_id = \(String(reflecting: round.jobId)), round = \(round.round)"
                return JobView.Round(
                    round: round.round, loss: round.loss, samples: round.samples, replicas: round.replicas,
                    // A round stored with `{}` by an earlier release shows as unmeasured, never as an empty object.
                    metrics: try round.metrics.map { text throws(StoreError) in
                        try StoredJSON.metrics(text, table: "rounds", row: key, column: "metrics")
                    }.flatMap { $0.isEmpty ? nil : $0 },
                    seconds: round.seconds)
            }, waiting: waiting)
    }

    /// The view of a model version.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` when its metrics or hyperparameters do
    ///   not decode. An imported version's hyperparameters are `{}`, shown as `null`.
    func view(_ model: ModelRecord) throws(StoreError) -> ModelView {
        let key = "version = \(model.version)"
        let hyperparameters =
            model.hyperparameters == "{}"
            ? nil
            : try StoredJSON.decode(
                TrainJobSpec.self, from: model.hyperparameters, table: "models", row: key, column: "hyperparameters")
        let metrics = try StoredJSON.metrics(model.metrics, table: "models", row: key, column: "metrics")
        return ModelView(
            version: model.version, job: model.job.isEmpty ? nil : model.job, promoted: model.promoted,
            metrics: metrics.isEmpty ? nil : metrics, datasetSha256: model.datasetSHA.isEmpty ? nil : model.datasetSHA,
            hyperparameters: hyperparameters, checkpointSha256: model.checkpointSHA, createdAt: model.createdAt)
    }
}

/// The JSON documents the store holds as text (a job's spec, metrics, a version's hyperparameters), decoded so
/// that a document that does not decode is an error naming where it is stored, never shown as absent or empty.
enum StoredJSON {
    /// Decodes `text`, stored in `column` of the row `row` of `table`.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` when it does not decode as `type`.
    static func decode<Value: Decodable>(
        _ type: Value.Type, from text: String, table: String, row: String, column: String
    ) throws(StoreError) -> Value {
        do {
            return try WireJSON.decode(Value.self, from: Array(text.utf8))
        } catch {
            let shown = text.count > 80 ? "\(text.prefix(80))…" : text
            throw .corruptColumn(
                table: table, row: row, column: column,
                problem: "\(String(reflecting: shown)) does not decode: \(error)")
        }
    }

    /// Decodes `text` like ``decode(_:from:table:row:column:)`` and refuses a document that decodes but cannot be
    /// used (``DocumentProblem/problem``: an impression record with a propensity of 0), which a
    /// damaged or hand-edited row may hold: it is named as damaged, never acted on.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` when it does not decode or cannot be used.
    static func decodeValid<Value: Decodable & DocumentProblem>(
        _ type: Value.Type, from text: String, table: String, row: String, column: String
    ) throws(StoreError) -> Value {
        let value = try decode(type, from: text, table: table, row: row, column: column)
        if let problem = value.problem {
            throw .corruptColumn(
                table: table, row: row, column: column, problem: "the stored document cannot be used: \(problem)")
        }
        return value
    }

    /// Stored metrics (an undefined one, `null`, is kept with no value); empty when none are stored (`nil`).
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` when the text is not a metrics object.
    static func metrics(_ text: String?, table: String, row: String, column: String) throws(StoreError)
        -> MetricValues
    {
        guard let text else { return [:] }
        return try decode(MetricValues.self, from: text, table: table, row: row, column: column)
    }
}
