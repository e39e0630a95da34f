import Foundation
import Logging
import RecTransport

/// A ZeroMQ Authentication Protocol handler (ZeroMQ RFC 27) for the broker's CURVE sockets.
///
/// It binds `inproc://zeromq.zap.01` in the broker's context, on its own dedicated thread, and
/// answers each version `1.0` request: status `200` with `User-Id` set to the peer's role when its
/// CURVE public key is on the allow-list for the socket's ZAP domain, else `400`. libzmq's ZAP
/// client is a REQ socket, so on this ROUTER a request reads
/// `[routing id, "", "1.0", request id, domain, address, identity, mechanism, credentials…]`.
final class ZAPHandler: Sendable {
    static let endpoint = "inproc://zeromq.zap.01"

    private let context: ZMQContext
    private let security: LockedBox<BrokerSecurity>
    /// The (domain, key) pairs admitted so far, to say on a reload how many admitted peers a new
    /// list no longer allows (they keep the sessions they have: ZAP runs once per handshake).
    private let admitted = LockedBox<Set<AdmittedPeer>>([])
    private let logger: Logger
    private let stopRequested = LockedBox(false)
    private let wakeup = WakeupSignal()
    private let finished = DispatchSemaphore(value: 0)
    private let bindError = LockedBox<ZMQError?>(nil)
    /// Handshakes answered 200 and 400, for logs and tests.
    let counts = LockedBox((accepted: 0, refused: 0))
    /// Refused handshakes not yet taken by ``takeRefused()``.
    private let refusedSinceTaken = LockedBox<UInt64>(0)
    /// When the last "refused a peer" line was logged (monotonic ms, 0 never) and how many refusals went unlogged
    /// since: anyone who can reach the port can make handshakes with fresh keys, and each wrote a line (4,070 lines in
    /// 5 s from one process), so a line is written at most every ``refusalLogIntervalMs``, saying how many it stands for.
    private let refusalLog = LockedBox((lastMs: UInt64(0), unlogged: 0))
    /// The least time between two "refused a peer" lines, in ms.
    static let refusalLogIntervalMs: UInt64 = 5_000

    init(context: ZMQContext, security: BrokerSecurity, logger: Logger) {
        self.context = context
        self.security = LockedBox(security)
        self.logger = logger
    }

    /// Replaces the allow-lists (the key pair stays); later handshakes are judged by the new lists.
    /// - Returns: how many distinct peers admitted earlier the new lists no longer allow.
    func replaceAllowLists(_ lists: AllowLists) -> Int {
        let current = security.withLock { security -> BrokerSecurity in
            security.clients = lists.clients
            security.trainers = lists.trainers
            security.workers = lists.workers
            return security
        }
        return admitted.withLock { peers in
            peers.filter { current.role(domain: $0.domain, publicKey: $0.key) == nil }.count
        }
    }

    /// Starts the handler thread and returns once its socket is bound, so no CURVE handshake can
    /// happen before the handler is listening.
    /// - Throws: ``BrokerError/bindFailed(endpoint:_:)`` if the ZAP endpoint cannot be bound.
    func start() throws(BrokerError) {
        let bound = DispatchSemaphore(value: 0)
        DedicatedThread.start(name: "broker-zap") { [self] in
            let socket: ZMQSocket
            do throws(ZMQError) {
                socket = try ZMQSocket(context, type: .router)
                try socket.bind(Self.endpoint)
            } catch {
                bindError.withLock { $0 = error }
                bound.signal()
                finished.signal()
                return
            }
            bound.signal()
            serve(socket)
            socket.close()
            finished.signal()
        }
        bound.wait()
        if let error = bindError.withLock({ $0 }) { throw .bindFailed(endpoint: Self.endpoint, error) }
    }

    /// Stops the handler and waits until its socket is closed.
    func stop() {
        stopRequested.withLock { $0 = true }
        wakeup.signal()
        finished.wait()
    }

    private func serve(_ socket: ZMQSocket) {
        var poller = ZMQPoller([PollItem(socket: socket), PollItem(fileDescriptor: wakeup.fileDescriptor)])
        while !stopRequested.withLock({ $0 }) {
            do {
                try poller.poll(timeoutMilliseconds: 500)
                if poller.isReadable(1) { wakeup.drain() }
                while let request = try socket.receive(dontWait: true) {
                    if let reply = answer(request.frames) { try socket.send(reply, dontWait: true) }
                }
            } catch {
                if error.isTerminated { return }
                logger.error("ZAP handler failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The reply frames for one request, or `nil` if it is too broken to address.
    func answer(_ frames: [[UInt8]]) -> [[UInt8]]? {
        guard frames.count >= 4 else { return nil }
        let envelope = Array(frames[0..<2])
        let requestId = frames[3]
        func reply(_ code: String, _ text: String, userId: String = "") -> [[UInt8]] {
            envelope + [Array("1.0".utf8), requestId, Array(code.utf8), Array(text.utf8), Array(userId.utf8), []]
        }
        guard String(decoding: frames[2], as: UTF8.self) == "1.0" else {
            refused()
            return reply("500", "unsupported ZAP version")
        }
        guard frames.count >= 9 else {
            refused()
            return reply("400", "malformed ZAP request")
        }
        let domain = String(decoding: frames[4], as: UTF8.self)
        let mechanism = String(decoding: frames[7], as: UTF8.self)
        guard mechanism == "CURVE", frames[8].count == 32, let key = ZMQContext.z85Encode(frames[8]) else {
            refused()
            return reply("400", "CURVE required")
        }
        guard let role = security.withLock({ $0.role(domain: domain, publicKey: key) }) else {
            refused()
            let now = Clocks.monotonicMicros() / 1000
            let unlogged = refusalLog.withLock { log -> Int? in
                guard log.lastMs == 0 || now >= log.lastMs + Self.refusalLogIntervalMs else {
                    log.unlogged += 1
                    return nil
                }
                defer { log = (now, 0) }
                return log.unlogged
            }
            if let unlogged {
                var metadata: Logger.Metadata = [
                    "domain": "\(domain)", "key": "\(key)", "address": "\(String(decoding: frames[5], as: UTF8.self))",
                ]
                if unlogged > 0 { metadata["refused_unlogged_since_last_line"] = "\(unlogged)" }
                logger.notice("refused a peer", metadata: metadata)
            }
            return reply("400", "key not allowed")
        }
        counts.withLock { $0.accepted += 1 }
        admitted.withLock { _ = $0.insert(AdmittedPeer(domain: domain, key: key)) }
        return reply("200", "OK", userId: role.userId(key: key))
    }

    private func refused() {
        counts.withLock { $0.refused += 1 }
        refusedSinceTaken.withLock { $0 += 1 }
    }

    /// Handshakes refused since the last call (added to STATUS `refused_handshakes`).
    func takeRefused() -> UInt64 {
        refusedSinceTaken.withLock { count in
            defer { count = 0 }
            return count
        }
    }
}

/// A public key the ZAP handler admitted, and on which socket.
private struct AdmittedPeer: Hashable, Sendable {
    let domain: String
    let key: String
}
