extension BrokerCore {
    /// Sends the promoted version's WEIGHTS to a worker that serves another version.
    ///
    /// Every heartbeat carries the worker's version, so a stale replica — one that was down at the
    /// promotion, joined later, or lost the message — is noticed within a heartbeat and sent the
    /// weights again, paced to once per two heartbeat intervals. There is no separate push path.
    /// - Parameter evenIfCurrent: send to a worker that reports the version too (a new rollout: the worker records
    ///   what it is asked to serve, and drops a build of another version still running).
    mutating func sendWeightsIfStale(
        _ identity: [UInt8], now: BrokerInstant, into actions: inout [BrokerAction], force: Bool,
        evenIfCurrent: Bool = false
    ) {
        guard let rollout, !rollout.frames.isEmpty, let worker = workers[identity],
            evenIfCurrent || worker.modelVersion != rollout.version || !holdsClaimedVersion(worker)
        else { return }
        let pace = configuration.heartbeatIntervalMs * 2000
        guard force || now.monotonicMicros >= worker.weightsSentAt + pace else { return }
        workers[identity]?.weightsSentAt = now.monotonicMicros
        if let index = workers.index(forKey: identity) { workers.values[index].admit(rollout.version) }
        counters.add(.weightsSent)
        actions.append(.sendToWorker(identity: identity, frames: rollout.frames))
    }

    /// The live workers that run training rounds, for the control plane.
    public var trainingWorkers: [TrainingWorker] {
        workers.values.filter { $0.trains || $0.online }.map {
            TrainingWorker(
                identity: $0.identity, id: $0.hello.workerId, trains: $0.trains, online: $0.online,
                registration: $0.registration, draining: $0.draining)
        }
            .sorted { $0.id < $1.id }
    }

    /// The version being rolled out, if any.
    public var rolloutVersion: UInt64? { rollout?.version }
}
