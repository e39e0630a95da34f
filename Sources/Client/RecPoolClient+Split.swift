import RecWire

extension RecPoolClient {
    /// How many rows of `columns` features one SCORE request may hold under `limits`: at most `maxRows`, and few
    /// enough that the message (the 56-byte header, the 8-byte tensor shape, 4 bytes a value) stays within
    /// `maxMessageBytes` (docs/PROTOCOL.md, "Limits"); 0 when one row alone is over it.
    public static func rowsPerRequest(columns: Int, limits: WireLimits = .standard) -> Int {
        guard columns > 0 else { return limits.maxRows }
        let fit = (limits.maxMessageBytes - Header.size - 8) / (4 * columns)
        return max(0, min(limits.maxRows, fit))
    }

    /// The request bytes ``scoreSplit(rows:version:timeoutMs:)`` keeps in flight: under the smallest `--client-bytes` a
    /// broker may have (16 MiB; the default is 64 MiB), so that rows of any number stay within the broker's per-client
    /// budget instead of being refused `BUSY` once their requests pass it. The Python client's `score` uses the same.
    public static let inFlightBytes = 12 << 20

    /// How many times ``scoreSplit(rows:version:timeoutMs:)`` sends again the parts a rollout left on another version
    /// before it gives up with `CONFLICT`.
    public static let rolloutRounds = 4

    /// Scores any number of rows as ``score(rows:version:timeoutMs:)`` scores one request's: split into requests of
    /// ``rowsPerRequest(columns:limits:)`` rows, sent together at most ``inFlightBytes`` at a time (at least one
    /// request; the pool spreads them over its workers), the scores
    /// put back in row order. When the requests were answered by different model versions (a rollout in between),
    /// the others are sent again pinned to the version the pool is moving to (the promoted one, from STATUS, when it
    /// answered some; else the highest number), so every score comes from one version; when the pool moves on again
    /// meanwhile (that pin answered CONFLICT), STATUS is asked again, at most ``rolloutRounds`` times.
    /// This is what the Python client's `score` does.
    /// - Throws: ``ClientError/invalidRequest(_:)`` for no rows, ragged rows, or a row over the message limit;
    ///   ``ClientError/server(status:message:retryAfterMs:)`` with `CONFLICT` when the served version still differed
    ///   between requests after ``rolloutRounds`` rounds (a rollout flipping back and forth), or when the model serving
    ///   the answered version changed during the call (STATUS before and after; a number such as 0 names every
    ///   unregistered model, one at a time); the first request's error otherwise.
    public func scoreSplit(rows: [[Float]], version: VersionRequirement = .any, timeoutMs: UInt64? = nil)
        async throws(ClientError) -> Scores
    {
        guard let width = rows.first?.count else { return try await score(rows: rows, version: version, timeoutMs: timeoutMs) }
        let perRequest = Self.rowsPerRequest(columns: width)
        guard perRequest > 0 else {
            throw .invalidRequest(
                "rows have \(width) features: one row is \(4 * width) bytes, more than a SCORE message may hold")
        }
        guard rows.count > perRequest else { return try await score(rows: rows, version: version, timeoutMs: timeoutMs) }
        let chunks = stride(from: 0, to: rows.count, by: perRequest).map { Array(rows[$0..<min($0 + perRequest, rows.count)]) }
        // Which model serves each number before the parts go out, and again after: one number may name two models in
        // turn (version 0, every unregistered model; any number on a broker without a registry), and parts scored
        // across such a change were merged as one version's scores.
        let before = try? await status()
        var results = try await scoreAll(
            chunks, offsets: chunks.indices.map { $0 * perRequest }, versions: Array(repeating: version, count: chunks.count),
            timeoutMs: timeoutMs)
        var newest = results.map(\.modelVersion).max() ?? 0
        var rounds = 0
        var lastRefusal: String?
        while Set(results.map(\.modelVersion)).count > 1 {
            // The version the pool is moving to, which a rollback makes a lower number than the one it leaves: pinned
            // to the highest number, the parts went to a version the pool no longer serves (CONFLICT).
            newest = results.map(\.modelVersion).max() ?? 0
            if let promoted = try? await status().promotedVersion, results.contains(where: { $0.modelVersion == promoted }) {
                newest = promoted
            }
            guard rounds < Self.rolloutRounds else {
                let seen = Set(results.map(\.modelVersion)).sorted().map(String.init).joined(separator: ", ")
                throw .server(
                    status: .conflict,
                    message: "the served model version kept changing while this call's \(chunks.count) requests were "
                        + "scored (versions \(seen)): no one version scored every row; call again once the rollout ends"
                        + (lastRefusal.map { " (the last refusal: \($0))" } ?? ""),
                    retryAfterMs: 0)
            }
            rounds += 1
            let stale = results.indices.filter { results[$0].modelVersion != newest }
            do {
                let again = try await scoreAll(
                    stale.map { chunks[$0] }, offsets: stale.map { $0 * perRequest },
                    versions: Array(repeating: .exactly(newest), count: stale.count), timeoutMs: timeoutMs)
                for (index, result) in zip(stale, again) { results[index] = result }
            } catch .server(.conflict, let message, _) {
                lastRefusal = message
                // The pool moved on again while these parts were sent (our own pin, not the caller's): ask STATUS
                // which version it is moving to now.
                continue
            }
        }
        if let before, let after = try? await status() {
            let was = Self.modelsServing(newest, in: before)
            let now = Self.modelsServing(newest, in: after)
            // Nothing serving the number afterwards is a rollout that moved every worker on (a promotion after the
            // parts were answered): the call was refused as if a worker had changed. The price: a model that joined
            // under this number, answered a part and left before the second STATUS goes unseen, as one that joins and
            // leaves between two STATUS replies always did (a registry version names one checkpoint, so only seeded
            // or unregistered models, version 0, can differ under one number).
            if !was.isEmpty, !now.isEmpty, was != now {
                throw .server(
                    status: .conflict,
                    message: "the model serving version \(newest) changed while this call's \(chunks.count) requests were "
                        + "scored (\(was.sorted().joined(separator: ", ")) before, \(now.sorted().joined(separator: ", ")) "
                        + "after: a worker drained, left or joined with another model under that number), so its rows "
                        + "may have been scored by two models; call again",
                    retryAfterMs: 0)
            }
        }
        var timings = results[0].timings
        for result in results.dropFirst() {
            timings.brokerQueueMicros = max(timings.brokerQueueMicros, result.timings.brokerQueueMicros)
            timings.workerQueueMicros = max(timings.workerQueueMicros, result.timings.workerQueueMicros)
            timings.computeMicros = max(timings.computeMicros, result.timings.computeMicros)
        }
        return Scores(modelVersion: newest, values: results.flatMap(\.values), timings: timings)
    }

    /// The models that serve SCORE under `version` in `status` (workers offering SCORE, not draining, not idle, not
    /// `unverified`),
    /// each named by its weights' SHA-256, else its seed, else its source: one element while one model serves the
    /// number, as the broker routes a number to one model at a time.
    static func modelsServing(_ version: UInt64, in status: StatusDocument) -> Set<String> {
        Set(
            status.workers.filter {
                $0.modelVersion == version && $0.services.contains("SCORE") && !$0.draining && $0.idleReason == nil
                    && $0.modelSource != "unverified"  // a claim the registry does not hold takes no work
            }
            .map { worker in
                worker.modelSha256.map { "sha256 \($0.prefix(12))" } ?? worker.modelSeed.map { "the model seeded with \($0)" }
                    ?? worker.modelSource
            })
    }

    /// A worker's refusal of one request of a split call names its row within that request ("row 808 (0-based): …"):
    /// renamed by its row among all the call's rows (the request starts at row `offset`), so the user is pointed at the
    /// row of their input. Any other message is returned as it is.
    static func renumberingRow(_ message: String, offset: Int) -> String {
        guard offset > 0, message.hasPrefix("row "), let end = message.range(of: " (0-based)") else { return message }
        let digits = message[message.index(message.startIndex, offsetBy: 4)..<end.lowerBound]
        guard let row = Int(digits) else { return message }
        return "row \(offset + row) (0-based) of all the rows"
            + String(message[end.upperBound...])
            .replacing("no row of this request was scored", with: "none of that request's rows was scored")
    }

    /// Scores each chunk with its version requirement, concurrently; the results in chunk order. A score that is no
    /// probability is named by its row among all the rows (chunk `i` starts at row `offsets[i]`).
    private func scoreAll(
        _ chunks: [[[Float]]], offsets: [Int], versions: [VersionRequirement], timeoutMs: UInt64?
    ) async throws(ClientError) -> [Scores] {
        do {
            let requestBytes = Header.size + 8 + 4 * (chunks.first?.first?.count ?? 0) * (chunks.first?.count ?? 0)
            let window = max(1, Self.inFlightBytes / max(1, requestBytes))
            return try await withThrowingTaskGroup(of: (Int, Scores).self) { group in
                func add(_ index: Int) {
                    let (chunk, version, offset) = (chunks[index], versions[index], offsets[index])
                    group.addTask {
                        do throws(ClientError) {
                            return (index, try await self.score(rows: chunk, version: version, timeoutMs: timeoutMs))
                        } catch .protocolViolation(.scoreOutOfRange(let row, let value)) {
                            throw ClientError.protocolViolation(.scoreOutOfRange(row: offset + row, value: value))
                        } catch .server(let status, let message, let retryAfterMs) {
                            throw ClientError.server(
                                status: status, message: Self.renumberingRow(message, offset: offset),
                                retryAfterMs: retryAfterMs)
                        }
                    }
                }
                var next = min(window, chunks.count)
                for index in 0..<next { add(index) }
                var results = [Scores?](repeating: nil, count: chunks.count)
                for try await (index, scores) in group {
                    results[index] = scores
                    if next < chunks.count {
                        add(next)
                        next += 1
                    }
                }
                return results.map { $0! }
            }
        } catch let error as ClientError {
            throw error
        } catch {
            throw .invalidRequest("\(error)")
        }
    }
}
