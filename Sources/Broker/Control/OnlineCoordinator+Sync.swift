import Foundation
import Metrics
import RecPolicy
import RecStore
import RecWire

extension OnlineCoordinator {
    /// Asks every replica for its learnt weights.
    func startSync(corrupt: Bool, requester: (identity: [UInt8], header: Header)?, nowMs: UInt64) {
        flushLearn()
        let id = nextSyncId
        nextSyncId += 1
        sync = Sync(
            id: id, startedMs: nowMs, pending: Set(workers.map(\.identity)), corrupt: corrupt, requester: requester)
        viewDirty = true
        for worker in workers {
            emit(.toWorker(identity: worker.identity, frames: [Header(command: .policyPull, requestId: id).encoded()]))
        }
        logger.debug("online sync started", metadata: ["sync": "\(id)", "replicas": "\(workers.count)"])
        if workers.isEmpty { closeSync(nowMs: nowMs) }
    }

    /// Handles POLICY_STATE from a replica.
    func handleWorker(identity: [UInt8], message: WireMessage, nowMs: UInt64) {
        guard let report = try? WireJSON.decode(PolicyStateReport.self, from: try message.frame(0)) else {
            logger.warning("a replica sent a POLICY_STATE that does not decode")
            return
        }
        let name = workers.first { $0.identity == identity }?.id ?? "?"
        switch report.kind {
        case .installed:
            replicas[identity] = ReplicaPolicyView(worker: name, version: report.version, weightsSha256: report.weightsSha256)
            viewDirty = true
        case .sync:
            guard var running = sync, running.id == report.sync, running.candidate == nil,
                running.pending.contains(identity)
            else { return }
            running.pending.remove(identity)
            if message.payload.count >= 2, let pack = try? ParameterPack(decoding: message.payload[1]) {
                running.results[identity] = (report, pack)
            } else {
                logger.warning("a replica's sync state has no readable pack", metadata: ["worker": "\(name)"])
            }
            sync = running
            if running.pending.isEmpty { closeSync(nowMs: nowMs) }
        }
    }

    /// Averages what came back and hands the candidate to the guard (on its own thread); with nothing to
    /// judge, the sync ends at once.
    func closeSync(nowMs: UInt64) {
        guard var running = sync, running.candidate == nil else { return }
        let contributions = running.results.values.filter { $0.report.version == version && $0.report.events > 0 }
        guard running.corrupt || !contributions.isEmpty else {
            finishSync(nil, nowMs: nowMs)
            return
        }
        do {
            let candidate: OnlinePolicy
            if running.corrupt {
                let noise = PolicyWeights.noise(like: policy.network, seed: running.id &* 0x9E37_79B9)
                candidate = try policy.with(parameters: noise["q"] ?? [])
            } else {
                let averaged = try ParameterPack.weightedMean(contributions.map { ($0.pack, Double($0.report.events)) })
                candidate = try policy.with(
                    parameters: PolicyWeights.parameters(averaged, expected: policy.network.network.parameterCount))
            }
            running.candidate = candidate
            running.contributors = contributions.count
            running.events = contributions.reduce(0) { $0 + $1.report.events }
            sync = running
            judge(
                GuardJudge.Case(
                    sync: running.id, candidate: candidate, current: policy, evidence: try guardEvidence(),
                    margin: settings.guardMargin, minimumRows: settings.guardMinimumRows, nowMs: nowMs))
        } catch {
            rejected += 1
            logger.error("online sync failed", metadata: ["error": "\(error)"])
            finishSync(
                GuardDecision(
                    accepted: false, reason: "rejected: the candidate could not be built: \(error)", candidateValue: nil,
                    currentValue: nil, margin: settings.guardMargin, rows: 0, atMs: nowMs),
                nowMs: nowMs)
        }
    }

    /// The guard's verdict on the running sync's candidate.
    func handleVerdict(sync id: UInt64, decision: GuardDecision, nowMs: UInt64) {
        guard let running = sync, running.id == id, let candidate = running.candidate else { return }
        var decision = decision
        if decision.accepted {
            do {
                try serve(candidate, as: try Self.successor(of: version), decision: decision, nowMs: nowMs)
                syncs += 1
                logger.info(
                    "online sync accepted",
                    metadata: [
                        "version": "\(version)", "replicas": "\(running.contributors)", "events": "\(running.events)",
                        "guard": "\(decision.reason)",
                    ])
            } catch {
                // The version is not durable, so it is not served: the decision the requester and the
                // status see says why, and the failed write is counted.
                rejected += 1
                durableWriteFailures += 1
                Counter(label: "recpool_broker_durable_write_failures_total").increment()
                logger.error("cannot store the accepted online version", metadata: ["error": "\(error)"])
                decision.accepted = false
                decision.reason =
                    "rejected: the guard accepted the candidate but it could not be stored durably (\(error)); "
                    + "replicas keep serving version \(version)"
            }
        } else {
            rejected += 1
            logger.warning(
                "online sync rejected by the guard; replicas keep serving the current version",
                metadata: ["version": "\(version)", "guard": "\(decision.reason)"])
        }
        finishSync(decision, nowMs: nowMs)
    }

    /// Ends the running sync: every replica is told which version to serve, held events follow.
    func finishSync(_ decision: GuardDecision?, nowMs: UInt64) {
        guard let running = sync else { return }
        if let decision { lastDecision = decision }
        sync = nil
        unsynced.removeAll()
        eventsSinceSync = 0
        lastSyncMs = nowMs
        intervalStartMs = nowMs
        viewDirty = true
        for worker in workers { install(on: worker.identity) }
        flushLearn()
        publishView()
        if let requester = running.requester {
            var ok = requester.header.reply(status: .ok, modelVersion: version)
            ok.command = .control
            emit(.toClient(identity: requester.identity, frames: [ok.encoded(), WireJSON.encode(view)]))
        }
    }

    /// The newest logged impressions with feedback, as the guard reads them.
    func guardEvidence() throws -> [GuardImpression] {
        flushPending()
        return try store.recentImpressionsWithFeedback(limit: settings.guardImpressions).compactMap { row in
            guard let record = try? WireJSON.decode(ImpressionRecord.self, from: Array(row.record.utf8)) else {
                return nil
            }
            return GuardImpression(
                userFeatures: record.userFeatures, slate: record.slate, propensities: record.propensities,
                clicks: row.clicks)
        }
    }
}
