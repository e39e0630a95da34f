import DequeModule

/// Replies that met a client's full send queue, kept in order until the client has read enough to take them.
///
/// libzmq bounds what the frontend buffers per client in messages (``BrokerCore/BrokerConfiguration/clientSendHighWaterMark``,
/// sized for the largest SCORE reply), and a send past it fails with `EAGAIN`. A client that reads its replies can
/// still meet that bound: a timer pass that answers four thousand queued requests NO_WORKER at once sends them faster
/// than libzmq's I/O thread hands them to the connection. Dropped there, replies were lost by a client that was
/// reading (docs/PROTOCOL.md: every request gets exactly one reply). Such replies wait here instead, and every later
/// reply to the same client waits behind them, so a client's replies keep their order.
///
/// What waits is bounded per client by the same budget as libzmq's buffer, `limitBytes`
/// (`--client-reply-bytes`), and in time by ``maximumAgeMicros``: a reply past either is dropped and counted in
/// `replies_dropped_hwm`, as before, so a client that does not read loses its replies, not the broker its memory.
///
/// Owned by the reactor's thread: not thread-safe.
final class ReplyBacklog {
    /// A reply waiting to be sent.
    struct Waiting {
        /// The frames after the routing identity.
        var frames: [[UInt8]]
        /// Their bytes, counted against the client's budget.
        var bytes: Int
        /// When it first met the full queue (monotonic µs).
        var since: UInt64
    }

    /// What became of a reply handed to ``send(_:to:now:through:)`` or retried by ``flush(now:through:)``.
    enum Outcome {
        /// Handed to libzmq: the reply's frames.
        case sent([[UInt8]])
        /// Kept behind the client's waiting replies (its queue is full, its budget is not).
        case waiting
        /// Dropped: its client's budget was full, or it waited longer than ``maximumAgeMicros``.
        case dropped([[UInt8]])
        /// The client is gone (`EHOSTUNREACH`): every reply waiting for it (`lost`) was dropped with it.
        case unreachable(identity: [UInt8], lost: Int)
    }

    /// How long a reply may wait for its client to read, in µs: 10 s.
    static let maximumAgeMicros: UInt64 = 10_000_000

    /// Bytes that may wait per client.
    let limitBytes: Int
    private var waiting: [[UInt8]: Deque<Waiting>] = [:]
    private var bytes: [[UInt8]: Int] = [:]

    /// A backlog allowing `limitBytes` of replies to wait per client.
    init(limitBytes: Int) {
        self.limitBytes = limitBytes
    }

    /// Whether no reply waits.
    var isEmpty: Bool { waiting.isEmpty }

    /// How long the reactor may sleep before the next ``flush(now:through:)``, in ms: 1 after a flush that sent
    /// something, doubled after each that sent nothing, up to 64. A client that sends and never reads keeps a reply
    /// waiting for up to ``maximumAgeMicros``; retried every millisecond all that time, the reactor woke a thousand
    /// times a second for nothing.
    private(set) var retryDelayMs = 1

    /// Replies waiting, over every client.
    var count: Int { waiting.values.reduce(0) { $0 + $1.count } }

    /// Sends `frames` to `identity` with `attempt` (a non-blocking send: false when the client's queue is full), or
    /// keeps them behind the client's waiting replies, or drops them when its budget is full.
    /// - Throws: what `attempt` throws (the client is gone); nothing is kept then.
    func send(
        _ frames: [[UInt8]], to identity: [UInt8], now: UInt64,
        through attempt: ([UInt8], [[UInt8]]) throws -> Bool
    ) rethrows -> Outcome {
        if waiting[identity] == nil, try attempt(identity, frames) { return .sent(frames) }
        if waiting.isEmpty { retryDelayMs = 1 }
        let size = frames.reduce(0) { $0.addingSaturating($1.count) }
        let held = bytes[identity, default: 0]
        guard held.addingSaturating(size) <= limitBytes else { return .dropped(frames) }
        waiting[identity, default: []].append(Waiting(frames: frames, bytes: size, since: now))
        bytes[identity] = held + size
        return .waiting
    }

    /// Sends what waits, each client's replies in order until its queue is full again; drops replies older than
    /// ``maximumAgeMicros``.
    /// - Returns: what happened to each reply that left the backlog.
    func flush(now: UInt64, through attempt: ([UInt8], [[UInt8]]) throws -> Bool) -> [Outcome] {
        var outcomes: [Outcome] = []
        for identity in Array(waiting.keys) {
            guard var queue = waiting.removeValue(forKey: identity) else { continue }
            var held = bytes.removeValue(forKey: identity) ?? 0
            while let first = queue.first {
                if now &- first.since > Self.maximumAgeMicros {
                    outcomes.append(.dropped(first.frames))
                } else {
                    do {
                        guard try attempt(identity, first.frames) else { break }
                        outcomes.append(.sent(first.frames))
                    } catch {
                        outcomes.append(.unreachable(identity: identity, lost: queue.count))
                        queue.removeAll()
                        held = 0
                        break
                    }
                }
                held -= first.bytes
                queue.removeFirst()
            }
            if !queue.isEmpty {
                waiting[identity] = queue
                bytes[identity] = held
            }
        }
        let progress = outcomes.contains { if case .sent = $0 { true } else { false } }
        retryDelayMs = progress ? 1 : min(retryDelayMs * 2, 64)
        return outcomes
    }

    /// Takes every waiting reply out (the broker is stopping): the caller counts them as dropped.
    func removeAll() -> [[[UInt8]]] {
        defer {
            waiting = [:]
            bytes = [:]
        }
        return waiting.values.flatMap { $0.map(\.frames) }
    }
}
