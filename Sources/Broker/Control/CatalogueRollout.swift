import BrokerCore
import RecWire

/// Which catalogue version each live worker has confirmed, and the catalogue changes waiting for those
/// confirmations before they are acknowledged. A value with no I/O: ``CatalogueCoordinator`` feeds it events and
/// sends what it returns, so "acknowledged only once every live worker has the version" is tested on values.
///
/// Every live worker gets every version the pool serves; a change is acknowledged when every live policy-serving worker (one that
/// serves the online policy) has confirmed that version or a newer one (a worker that leaves stops counting), or
/// when `timeoutMs` has passed, in which case the acknowledgement says `confirmed: false`.
struct CatalogueRollout {
    /// A change stored and sent, waiting for confirmations.
    struct Pending {
        /// Who asked, and the reply header to echo.
        var identity: [UInt8]
        var header: Header
        /// The stored version.
        var version: UInt64
        /// When it was stored, ms since the epoch.
        var storedMs: UInt64
    }

    /// What the registry holds for the version a worker confirmed.
    enum Registered: Equatable {
        /// The version's SHA-256 (hex).
        case sha256(String)
        /// The registry has no such version.
        case unregistered
        /// The registry's record of the version could not be read (why): the confirmation cannot be checked, which
        /// is neither a match nor a mismatch.
        case unreadable(String)
    }

    /// What the coordinator must do.
    enum Action: Equatable {
        /// Send the version to a worker.
        case install(worker: [UInt8], version: UInt64)
        /// Acknowledge a change: every worker confirmed it (`true`) or the wait timed out (`false`).
        case acknowledge(identity: [UInt8], header: Header, version: UInt64, confirmed: Bool)
    }

    /// How long a change waits for confirmations, ms.
    var timeoutMs: UInt64 = 10_000
    /// The version every live worker is sent, if any: the newest stored, or the one the online policy serves when that
    /// is an earlier one (`--online-catalogue N`; a replica moves its policy to every newer version it installs).
    private(set) var target: UInt64?
    /// Live workers: identity → display id.
    private(set) var live: [[UInt8]: String] = [:]
    /// The live workers as last told, with their registrations (``TrainingWorker/registration``).
    private var registered: [TrainingWorker] = []
    /// The live workers that serve the online policy: the ones an acknowledgement waits for.
    private(set) var serving: Set<[UInt8]> = []
    /// The version each worker confirmed (with the SHA-256 it computed).
    private(set) var confirmed: [[UInt8]: (version: UInt64, sha256: String)] = [:]
    private(set) var pending: [Pending] = []
    /// How many times each worker was sent the newest version again after refusing it.
    private(set) var resends: [[UInt8]: (version: UInt64, count: Int)] = [:]
    /// The most times a refused version is sent again to one worker. A refusal may be damage on the way, worth a
    /// retry; a worker that refuses every copy (it cannot decode or hold the version) would otherwise be sent it
    /// again at once, forever: thousands of copies a second of a catalogue that may hold megabytes.
    static let maximumResends = 3
    /// The newest version each worker did not install and why (its CATALOGUE_STATE's `error`, or the broker's own
    /// reason when the worker confirmed a SHA-256 the registry does not hold), until it confirms that version or a
    /// newer one: shown with the replica in the catalogue command's answer.
    private(set) var refusals: [[UInt8]: (version: UInt64, reason: String)] = [:]
    /// The newest version each worker confirmed that the registry could not check (its record could not be read),
    /// and why, until the worker confirms that version or a newer one with a SHA-256 that is checked.
    private(set) var unchecked: [[UInt8]: (version: UInt64, reason: String)] = [:]

    /// Why `worker` has not confirmed the newest version it was refused, or a version it confirmed could not be
    /// checked; nil when neither.
    func refusal(of worker: [UInt8]) -> String? {
        let have = confirmed[worker]?.version ?? 0
        if let refused = refusals[worker], refused.version > have {
            return "version \(refused.version) not installed: \(refused.reason)"
        }
        if let pending = unchecked[worker], pending.version > have {
            return "version \(pending.version) installed but not checked: \(pending.reason)"
        }
        return nil
    }

    /// Records the version to send workers at start (no acknowledgement waits for it).
    mutating func start(target: UInt64?) { self.target = target }

    /// A version was stored: every live worker gets it, and `requester` (if any) waits for them. With `served` false
    /// (the online policy could not move to it) no worker is sent it, since a replica moves its policy to every newer
    /// version it installs: the requester's wait ends unconfirmed at the timeout.
    mutating func stored(
        _ version: UInt64, requester: (identity: [UInt8], header: Header)?, served: Bool = true, nowMs: UInt64,
        into actions: inout [Action]
    ) {
        if served {
            target = version
            for worker in live.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                actions.append(.install(worker: worker, version: version))
            }
        }
        if let requester {
            pending.append(Pending(identity: requester.identity, header: requester.header, version: version, storedMs: nowMs))
        }
        settle(nowMs: nowMs, into: &actions)
    }

    /// The live workers changed: a new one gets the newest version, one that left no longer counts.
    mutating func workers(_ workers: [TrainingWorker], nowMs: UInt64, into actions: inout [Action]) {
        let now = Dictionary(workers.map { ($0.identity, $0.id) }, uniquingKeysWith: { first, _ in first })
        // A worker that sent READY again forgot its catalogue version (a registration starts afresh): it is a newcomer,
        // sent the newest version, and what it had confirmed no longer counts.
        let registeredAgain = TrainingWorker.registeredAgain(workers, since: registered)
        registered = workers
        for gone in live.keys where now[gone] == nil || registeredAgain.contains(gone) {
            confirmed[gone] = nil
            resends[gone] = nil
            refusals[gone] = nil
            unchecked[gone] = nil
        }
        if let target {
            for worker in now.keys.sorted(by: { $0.lexicographicallyPrecedes($1) })
            where live[worker] == nil || registeredAgain.contains(worker) {
                actions.append(.install(worker: worker, version: target))
            }
        }
        live = now
        serving = Set(workers.filter(\.online).map(\.identity))
        settle(nowMs: nowMs, into: &actions)
    }

    /// A worker's CATALOGUE_STATE. An installed version at least as new as what it had counts; a refusal of the
    /// newest version is answered by sending it again (the bytes may have been damaged on the way), at most
    /// ``maximumResends`` times per worker and version; after that the worker stays unconfirmed (its change is
    /// acknowledged `confirmed: false` at the timeout) until it registers again. Every refusal is kept with its
    /// reason (``refusal(of:)``) until the worker confirms that version or a newer one.
    mutating func state(
        _ state: CatalogueState, from worker: [UInt8], expectedSHA: String?, nowMs: UInt64,
        into actions: inout [Action]
    ) {
        self.state(
            state, from: worker, registered: expectedSHA.map(Registered.sha256) ?? .unregistered, nowMs: nowMs,
            into: &actions)
    }

    /// A worker's CATALOGUE_STATE, given what the registry holds for its version. A confirmation the registry could
    /// not check (``Registered/unreadable(_:)``) is neither counted nor taken as a mismatch: nothing is sent again,
    /// and the replica shows why it is unchecked.
    mutating func state(
        _ state: CatalogueState, from worker: [UInt8], registered: Registered, nowMs: UInt64,
        into actions: inout [Action]
    ) {
        guard live[worker] != nil else { return }
        if state.installed, case .unreadable(let why) = registered {
            if state.version >= (unchecked[worker]?.version ?? 0) {
                unchecked[worker] = (state.version, "the registry cannot read its record to check it: \(why)")
            }
            settle(nowMs: nowMs, into: &actions)
            return
        }
        if state.installed, case .sha256(let expected) = registered, state.sha256 == expected {
            if (confirmed[worker]?.version ?? 0) <= state.version {
                confirmed[worker] = (state.version, state.sha256)
            }
            if let refused = refusals[worker], refused.version <= state.version { refusals[worker] = nil }
            if let pending = unchecked[worker], pending.version <= state.version { unchecked[worker] = nil }
        } else {
            let registry: String
            switch registered {
            case .sha256(let sha): registry = "the registry's is \(sha.prefix(12))…"
            case .unregistered: registry = "the registry holds no version \(state.version)"
            case .unreadable(let why): registry = "the registry cannot read it: \(why)"
            }
            let reason =
                state.installed
                ? "the worker confirmed sha256 \(state.sha256.prefix(12))…, \(registry)"
                : state.error ?? "the worker gave no reason"
            if state.version >= (refusals[worker]?.version ?? 0) { refusals[worker] = (state.version, reason) }
            if let target, state.version == target {
                let sent = resends[worker].flatMap { $0.version == target ? $0.count : nil } ?? 0
                if sent < Self.maximumResends {
                    resends[worker] = (target, sent + 1)
                    actions.append(.install(worker: worker, version: target))
                }
            }
        }
        settle(nowMs: nowMs, into: &actions)
    }

    /// Time passes: changes waiting too long are acknowledged unconfirmed.
    mutating func tick(nowMs: UInt64, into actions: inout [Action]) { settle(nowMs: nowMs, into: &actions) }

    /// Whether every live policy-serving worker has confirmed `version` or a newer one.
    func allConfirmed(_ version: UInt64) -> Bool {
        serving.allSatisfy { (confirmed[$0]?.version ?? 0) >= version }
    }

    private mutating func settle(nowMs: UInt64, into actions: inout [Action]) {
        var waiting: [Pending] = []
        for change in pending {
            let done = allConfirmed(change.version)
            guard done || nowMs >= change.storedMs.addingSaturating(timeoutMs) else {
                waiting.append(change)
                continue
            }
            actions.append(
                .acknowledge(identity: change.identity, header: change.header, version: change.version, confirmed: done))
        }
        pending = waiting
    }
}
