import RecWire

extension BrokerCore {
    /// The STATUS document: live workers, queues and counters.
    /// Where a worker's model comes from, as `status` names it: `registry` for a registered version whose hash the
    /// registry holds, `unverified` for a claimed version it does not, `unchecked` for a claimed version on a broker
    /// without a registry (nothing to check it against), `file` or `seeded` for version 0.
    func modelSource(of worker: WorkerRecord) -> String {
        if worker.modelVersion != 0 && !configuration.keepsRegistry { return "unchecked" }
        return holdsClaimedVersion(worker) ? worker.modelSource : "unverified"
    }

    public func statusDocument(now: BrokerInstant) -> StatusDocument {
        let workerEntries = workers.values.map { worker in
            StatusDocument.Worker(
                id: worker.hello.workerId, address: worker.address, slots: worker.slots,
                inflight: worker.inflight.count, modelVersion: worker.modelVersion,
                inputWidth: worker.inputWidth,
                heartbeatAgeMs: (now.monotonicMicros &- worker.lastSeen) / 1000,
                services: worker.services.map(\.name).sorted() + (worker.trains ? [Command.trainRound.name] : []),
                completed: worker.completed,
                errors: worker.errors, pid: worker.hello.pid, host: worker.hello.host,
                modelSource: modelSource(of: worker),
                modelSha256: worker.modelSHA256,
                waitingForVersion: rollout != nil && (worker.modelVersion == 0 || !holdsClaimedVersion(worker))
                    ? rollout?.version : nil,
                modelSeed: worker.modelSeed, idleReason: idleReason(worker), draining: worker.draining,
                explorationSeeded: worker.hello.explorationSeeded)
        }.sorted { $0.id < $1.id }
        let services: [Command] = [.score, .recommend]
        let queueEntries = services.map { service in
            StatusDocument.Queue(
                service: service.name, depth: queues[service]?.count ?? 0, capacity: configuration.queueCapacity)
        }
        var document = StatusDocument(
            protocolVersion: Int(Header.currentVersion),
            uptimeMs: (now.monotonicMicros &- startedAt) / 1000,
            workers: workerEntries, queues: queueEntries, inflight: inflight.count,
            counters: counters.values, online: onlineView, promotedVersion: rollout?.version)
        document.onlineOff = onlineOff
        return document
    }
}
