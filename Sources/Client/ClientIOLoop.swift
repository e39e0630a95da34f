import DequeModule
import HeapModule
import RecTransport
import RecWire

/// The state the async API and the client's I/O thread share, behind one lock.
struct ClientState {
    struct Waiter {
        var continuation: CheckedContinuation<Result<WireMessage, ClientError>, Never>
        var giveUpAtMicros: UInt64
        var timeoutMs: UInt64
    }

    /// When a waiter gives up, ordered by time; entries for waiters already answered are skipped.
    struct Expiry: Comparable {
        var atMicros: UInt64
        var id: UInt64
        static func < (a: Expiry, b: Expiry) -> Bool { (a.atMicros, a.id) < (b.atMicros, b.id) }
    }

    var outgoing: Deque<[[UInt8]]> = []
    var waiters: [UInt64: Waiter] = [:]
    var expiries = Heap<Expiry>()
    var closed = false
    var nextRequestId: UInt64 = 1

    /// Removes and returns the waiter for `id`, if it is still waiting.
    mutating func take(_ id: UInt64) -> Waiter? { waiters.removeValue(forKey: id) }
}

/// The lock-protected state and the wake-up signal, shared by the async API and the I/O thread.
final class ClientShared: Sendable {
    let state = LockedBox(ClientState())
    let wakeup = WakeupSignal()
}

/// The client's I/O thread: it alone owns the DEALER socket. It sends what async callers queued,
/// routes each reply to the caller waiting on its request id, and fails callers whose time is up.
///
/// It also watches the socket's security handshakes (``HandshakeWatch``). libzmq ends a connecting
/// session for good when the broker refuses the handshake, so a refusal fails every waiting caller with
/// ``ClientError/handshakeFailed(endpoint:_:)`` at once, and the next call, no sooner than
/// ``reopenIntervalMicros`` later, goes out on a new socket: a key the broker admits later (after SIGHUP)
/// is used without restarting the client.
enum ClientIOLoop {
    /// The shortest time between two sockets opened after refused handshakes, in µs: each attempt costs the
    /// broker a ZAP request and a log line.
    static let reopenIntervalMicros: UInt64 = 1_000_000

    /// One DEALER socket connected to the broker, with the watch on its handshakes.
    private final class Connection {
        let socket: ZMQSocket
        let handshakes: HandshakeWatch

        init(context: ZMQContext, endpoint: String, socketOptions: [SocketOption]) throws(ZMQError) {
            socket = try ZMQSocket(context, type: .dealer)
            do {
                try socket.set(.sendHighWaterMark(100_000))
                try socket.set(.receiveHighWaterMark(100_000))
                for option in socketOptions { try socket.set(option) }
                handshakes = try HandshakeWatch(
                    socket, context: context, events: [.handshakeFailed, .handshakeSucceeded])
                try socket.connect(endpoint)
            } catch {
                socket.close()
                throw error
            }
        }

        deinit { socket.close() }

        /// Polls the socket (item 0), the wake-up signal (item 1) and the handshake monitor (item 2).
        func poller(wakeup: WakeupSignal) -> ZMQPoller {
            ZMQPoller([PollItem(socket: socket), PollItem(fileDescriptor: wakeup.fileDescriptor), handshakes.pollItem])
        }
    }

    /// What the handshakes of the current connection have shown.
    private struct HandshakeState {
        /// Whether the socket uses CURVE: a connection closed mid-handshake then means a server key that is not the
        /// broker's; without CURVE, a broker that requires CURVE or a port that is not a broker's.
        var curve: Bool
        /// The last failure since the last successful handshake.
        var failure: HandshakeFailure?
        /// When the session ended for good (a refusal or a protocol error): the connection must be replaced,
        /// no sooner than this monotonic time in µs.
        var reopenAtMicros: UInt64?

        /// Applies the monitor's events in order; returns the failure that ended the session, if one did.
        mutating func apply(_ events: [ZMQMonitorEvent], now: UInt64) -> HandshakeFailure? {
            var ended: HandshakeFailure?
            for event in events {
                switch event.event {
                case .handshakeSucceeded:
                    failure = nil
                case .handshakeFailedAuth:
                    failure = .refused(zapStatus: event.value)
                    ended = failure
                case .handshakeFailedProtocol:
                    failure = .protocolError(code: event.value)
                    ended = failure
                case .handshakeFailedNoDetail:
                    failure = curve ? .closedDuringHandshake(errno: event.value) : .closedDuringGreeting(errno: event.value)
                default:
                    continue
                }
            }
            if ended != nil { reopenAtMicros = now.addingSaturating(ClientIOLoop.reopenIntervalMicros) }
            return ended
        }
    }

    static func run(
        context: ZMQContext, endpoint: String, socketOptions: [SocketOption], shared: ClientShared,
        connected: (Result<Void, ClientError>) -> Void
    ) {
        let state = shared
        let wakeup = shared.wakeup
        var connection: Connection
        do {
            connection = try Connection(context: context, endpoint: endpoint, socketOptions: socketOptions)
        } catch {
            connected(.failure(.badEndpoint(endpoint, error)))
            return
        }
        connected(.success(()))
        var poller = connection.poller(wakeup: wakeup)
        let curve = socketOptions.contains { $0.name == .curveServerKey }
        var handshake = HandshakeState(curve: curve)
        var batch: [[[UInt8]]] = []
        while true {
            let (closed, timeout, hasOutgoing) = state.state.withLock { s -> (Bool, Int, Bool) in
                let now = Clocks.monotonicMicros()
                var waitMicros: UInt64 = 1_000_000
                if let next = s.expiries.min { waitMicros = min(waitMicros, next.atMicros > now ? next.atMicros - now : 0) }
                if let reopenAt = handshake.reopenAtMicros, !s.outgoing.isEmpty {
                    waitMicros = min(waitMicros, reopenAt > now ? reopenAt - now : 0)
                }
                return (s.closed, waitMicros == 0 ? 0 : Int(waitMicros / 1000 + 1), !s.outgoing.isEmpty)
            }
            if closed { break }
            if let reopenAt = handshake.reopenAtMicros, hasOutgoing, Clocks.monotonicMicros() >= reopenAt {
                // The old session is over: what the broker refused, a new socket may now be admitted for.
                if let fresh = try? Connection(context: context, endpoint: endpoint, socketOptions: socketOptions) {
                    connection = fresh
                    poller = connection.poller(wakeup: wakeup)
                    handshake = HandshakeState(curve: curve)
                } else {
                    handshake.reopenAtMicros = Clocks.monotonicMicros().addingSaturating(reopenIntervalMicros)
                }
            }
            do {
                try poller.poll(timeoutMilliseconds: timeout)
            } catch {
                break
            }
            if poller.isReadable(1) { wakeup.drain() }
            if poller.isReadable(2),
                let ended = handshake.apply(connection.handshakes.events(), now: Clocks.monotonicMicros())
            {
                failEveryCaller(.handshakeFailed(endpoint: endpoint, ended), state: state)
                continue
            }
            batch.removeAll(keepingCapacity: true)
            state.state.withLock { s in
                while let frames = s.outgoing.popFirst() { batch.append(frames) }
            }
            // Never block: with no usable connection (the broker is down, or refused our CURVE
            // handshake) a DEALER has nowhere to queue, and a blocking send would stop this thread
            // from timing out its callers. What cannot be sent now is retried on the next turn,
            // unless nobody waits for it any more.
            for (index, frames) in batch.enumerated() {
                if (try? connection.socket.send(frames, dontWait: true)) != true {
                    let unsent = batch[index...]
                    state.state.withLock { s in
                        for frames in unsent.reversed() {
                            guard let id = frames.first.flatMap(Header.salvageRequestId), s.waiters[id] != nil else {
                                continue
                            }
                            s.outgoing.prepend(frames)
                        }
                    }
                    break
                }
            }
            while let message = try? connection.socket.receive(dontWait: true) {
                deliver(message.frames, state: state)
            }
            expire(state: state, handshakeFailure: handshake.failure.map { .handshakeFailed(endpoint: endpoint, $0) })
        }
        let waiters = state.state.withLock { s in
            s.closed = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume(returning: .failure(.closed)) }
    }

    private static func deliver(_ frames: [[UInt8]], state: ClientShared) {
        let message: WireMessage
        do {
            message = try WireMessage(decoding: frames, limits: WireLimits(maxFrames: 64, maxMessageBytes: 1 << 30))
        } catch {
            // A frame without the reply bit answers no call, whatever id it names (a broker's backend sends id 0).
            if let first = frames.first, first.count > 4, first[4] & 0x80 == 0, Header.salvageRequestId(first) != nil {
                return failEveryCaller(error, state: state)
            }
            if let id = frames.first.flatMap(Header.salvageRequestId) {
                if let waiter = state.state.withLock({ $0.take(id) }) {
                    waiter.continuation.resume(returning: .failure(.protocolViolation(error)))
                }
                return
            }
            // A message naming no request (a peer that is not a RecPool broker of this protocol) may have been the
            // answer to any caller waiting: every one fails with it, as the Python clients' do, never left to time
            // out as if nothing had answered.
            return failEveryCaller(error, state: state)
        }
        guard message.header.isReply else {
            // A broker's backend talks to workers (DISCONNECT to a stranger): no caller's answer will come from it.
            return failEveryCaller(.notAReply(command: message.header.command.name), state: state)
        }
        guard let waiter = state.state.withLock({ $0.take(message.header.requestId) }) else {
            return  // a reply nobody waits for any more (timed out or cancelled)
        }
        waiter.continuation.resume(returning: .success(message))
    }

    /// Fails every waiting caller with `error`: the peer answered, but with nothing any of them can use.
    private static func failEveryCaller(_ error: WireError, state: ClientShared) {
        failEveryCaller(.protocolViolation(error), state: state)
    }

    /// Fails every waiting caller with `error`, and drops what is still queued for them.
    private static func failEveryCaller(_ error: ClientError, state: ClientShared) {
        let waiting: [ClientState.Waiter] = state.state.withLock { s in
            defer {
                s.waiters.removeAll()
                s.outgoing.removeAll()
            }
            return Array(s.waiters.values)
        }
        for waiter in waiting { waiter.continuation.resume(returning: .failure(error)) }
    }

    /// Fails the callers whose time is up: a heap pop per expiry, not a scan of every waiter. They fail with
    /// `handshakeFailure` instead of a timeout when the connection's last handshake failed (libzmq is still
    /// retrying it): that, not a silent broker, is why no reply came.
    private static func expire(state: ClientShared, handshakeFailure: ClientError?) {
        let now = Clocks.monotonicMicros()
        let expired: [(UInt64, ClientState.Waiter)] = state.state.withLock { s in
            var due: [(UInt64, ClientState.Waiter)] = []
            while let next = s.expiries.min, next.atMicros <= now {
                s.expiries.removeMin()
                if let waiter = s.waiters[next.id], waiter.giveUpAtMicros == next.atMicros, let taken = s.take(next.id) {
                    due.append((next.id, taken))
                }
            }
            return due
        }
        for (id, waiter) in expired {
            waiter.continuation.resume(
                returning: .failure(handshakeFailure ?? .timedOut(requestId: id, afterMs: waiter.timeoutMs)))
        }
    }
}
