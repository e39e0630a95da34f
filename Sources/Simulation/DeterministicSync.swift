import Foundation
import RecClient
import RecWire

/// The barrier that makes a live run repeatable (`recpool simulate --deterministic`): users are served one at a
/// time, and every `everyEvents` acknowledged feedback events the run waits for the pool to settle.
///
/// A pool's slates depend on timing in three ways: a sync by time lands at an arbitrary user, a replica's learning
/// update is published while the next RECOMMEND may already be read, and a version's installation on a replica
/// races the next RECOMMEND. The barrier removes all three on a pool that syncs only by event count
/// (`--online-sync-interval-ms 0`), whose replicas update exactly at a sync (`--online-update-every` equal to
/// `--online-sync-events`, a multiple of the slate length), with one replica and a fixed
/// `recpool-worker --exploration-seed`: the update at event M comes before the sync's pull (the replica's
/// learning thread runs in arrival order); the run then asks for syncs (`online_sync`, retrying CONFLICT while the
/// pool's own sync at M runs) until two have completed. The second one's pull is answered only after the first
/// one's installation was processed, and its own installation serves the same weights and version, so whatever
/// the next RECOMMEND reads is the same in every run.
public struct SyncBarrier: Sendable {
    /// Feedback events between two waits (the pool's M).
    public let everyEvents: Int
    let settle: @Sendable () async throws(SimulationError) -> Void

    /// Creates a barrier (tests use an in-process pool that is deterministic already).
    public init(everyEvents: Int, settle: @escaping @Sendable () async throws(SimulationError) -> Void) {
        self.everyEvents = everyEvents
        self.settle = settle
    }
}

extension PoolBackend {
    /// Checks that the pool can run deterministically and returns its barrier.
    /// - Parameter spec: the served policy's spec (its slate size and learning cadence).
    /// - Throws: ``SimulationError/notDeterministic(_:)`` naming the broker flag to change, or
    ///   ``SimulationError/policyUnavailable(_:)`` when the online view cannot be read.
    public func syncBarrier(spec: OnlinePolicySpec) async throws(SimulationError) -> SyncBarrier {
        let view: OnlineView
        do throws(ClientError) {
            view = try await client.online(timeoutMs: timeoutMs)
        } catch {
            throw .policyUnavailable(error)
        }
        let m = view.syncEvents
        if view.frozen { throw .notDeterministic("online learning is frozen (recpool online unfreeze)") }
        if view.syncIntervalMs != 0 {
            throw .notDeterministic(
                "the pool syncs every \(view.syncIntervalMs) ms as well as by events; start the broker with "
                    + "--online-sync-interval-ms 0")
        }
        if spec.learning.updateEvery != m || m % spec.slateSize != 0 {
            throw .notDeterministic(
                "replicas update every \(spec.learning.updateEvery) events and sync every \(m); start the broker with "
                    + "--online-update-every equal to --online-sync-events, a multiple of the slate size \(spec.slateSize)")
        }
        if view.replicas.count != 1 {
            throw .notDeterministic("the pool has \(view.replicas.count) replicas; a deterministic run needs exactly 1")
        }
        // The replica's Thompson samples come from its exploration stream: unseeded, two runs drew differently (window
        // CTRs 0.033, 0, 0.1 against 0.033 three times) with nothing said. The worker says in READY (STATUS shows it).
        let replica = view.replicas[0].worker
        let seeded: Bool?
        do throws(ClientError) {
            seeded = try await client.status(timeoutMs: timeoutMs).workers.first { $0.id == replica }?.explorationSeeded
        } catch {
            throw .policyUnavailable(error)
        }
        if seeded != true {
            throw .notDeterministic(
                "worker \(replica)'s exploration is "
                    + (seeded == false ? "not seeded" : "not known to be seeded (a worker too old to say)")
                    + ": start it with recpool-worker --exploration-seed N")
        }
        let client = client
        let timeoutMs = timeoutMs
        return SyncBarrier(everyEvents: m) { () async throws(SimulationError) in
            // A worker that joins during the run takes part in it (an unseeded one silently changed its draws): the
            // pool is checked again at every barrier.
            let now: OnlineView
            do throws(ClientError) {
                now = try await client.online(timeoutMs: timeoutMs)
            } catch {
                throw .policyUnavailable(error)
            }
            // Frozen during the run (`recpool online freeze`): no sync can happen, so the barrier fails at once rather
            // than retry the broker's CONFLICT for a minute at every barrier.
            if now.frozen { throw .notDeterministic("online learning was frozen during the run (recpool online unfreeze)") }
            guard now.replicas.count == 1, now.replicas[0].worker == replica else {
                throw .notDeterministic(
                    "the pool's replicas changed during the run (now \(now.replicas.map(\.worker))); a "
                        + "deterministic run needs its one replica, \(replica), throughout")
            }
            var completed = 0
            let deadline = Date().addingTimeInterval(60)
            while completed < 2 {
                do throws(ClientError) {
                    // A request may wait for the pool's own sync, then its own: at least 30 s, as onlineSync's default.
                    _ = try await client.onlineSync(timeoutMs: max(timeoutMs ?? 0, 30_000))
                    completed += 1
                } catch {
                    // CONFLICT while a sync runs is retried; one that says learning is frozen never clears by itself.
                    guard case .server(.conflict, let message, _) = error, !message.contains("frozen"), Date() < deadline
                    else {
                        throw .notDeterministic("a sync at the barrier failed: \(error)")
                    }
                    try? await Task.sleep(nanoseconds: 5_000_000)
                }
            }
        }
    }
}
