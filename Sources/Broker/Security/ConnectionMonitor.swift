import Foundation
import Logging
import RecTransport

/// Watches the broker's ROUTER sockets through libzmq's socket monitor (`zmq_socket_monitor`) and
/// counts and logs connections the broker failed to accept (`ZMQ_EVENT_ACCEPT_FAILED`, typically
/// `EMFILE` when the open-file limit is reached). libzmq retries a failed `accept(2)` by itself and
/// tells no one; without this a broker out of file descriptors leaves clients hanging in silence.
///
/// One dedicated thread owns the monitors' PAIR sockets. While the limit lasts, libzmq retries the
/// same waiting connection, so the count is of failed `accept` calls, not of distinct clients. The
/// log is rate-limited: the first failure at once, then one line per ``logInterval`` with the count.
final class ConnectionMonitor: Sendable {
    /// The least time between two log lines about accept failures, in µs.
    static let logIntervalMicros: UInt64 = 5_000_000

    private let context: ZMQContext
    private let logger: Logger
    private let endpoints = LockedBox<[String]>([])
    private let stopRequested = LockedBox(false)
    private let wakeup = WakeupSignal()
    private let finished = DispatchSemaphore(value: 0)
    private let started = LockedBox(false)
    /// Failed accepts not yet taken by ``takeAcceptFailures()``.
    private let pending = LockedBox<UInt64>(0)

    init(context: ZMQContext, logger: Logger) {
        self.context = context
        self.logger = logger
    }

    /// Starts monitoring `socket` (call on the thread that owns it, before it binds).
    /// - Parameter name: `frontend` or `backend`, part of the monitor's `inproc://` name.
    func attach(_ socket: ZMQSocket, name: String) throws(ZMQError) {
        let endpoint = "inproc://recpool-monitor-\(name)"
        try socket.monitor(endpoint, events: [.acceptFailed])
        endpoints.withLock { $0.append(endpoint) }
    }

    /// Starts the thread that reads the events of every attached socket.
    func start() {
        let names = endpoints.withLock { $0 }
        guard !names.isEmpty else { return }
        started.withLock { $0 = true }
        DedicatedThread.start(name: "broker-monitor") { [self] in
            var sockets: [ZMQSocket] = []
            for endpoint in names {
                do {
                    let socket = try ZMQSocket(context, type: .pair)
                    try socket.connect(endpoint)
                    sockets.append(socket)
                } catch {
                    logger.warning("cannot watch for refused connections", metadata: ["error": "\(error)"])
                }
            }
            serve(sockets)
            for socket in sockets { socket.close() }
            finished.signal()
        }
    }

    /// Stops the thread and waits until its sockets are closed.
    func stop() {
        guard started.withLock({ $0 }) else { return }
        stopRequested.withLock { $0 = true }
        wakeup.signal()
        finished.wait()
    }

    /// The accept failures counted since the last call (added to STATUS `accept_failures`).
    func takeAcceptFailures() -> UInt64 {
        pending.withLock { count in
            defer { count = 0 }
            return count
        }
    }

    private func serve(_ sockets: [ZMQSocket]) {
        var items = sockets.map { PollItem(socket: $0) }
        items.append(PollItem(fileDescriptor: wakeup.fileDescriptor))
        var poller = ZMQPoller(items)
        var unlogged: UInt64 = 0
        var lastLog: UInt64? = nil
        var lastReason = ""
        while !stopRequested.withLock({ $0 }) {
            do {
                try poller.poll(timeoutMilliseconds: 1000)
                if poller.isReadable(sockets.count) { wakeup.drain() }
                for socket in sockets {
                    while let message = try socket.receive(dontWait: true) {
                        guard let event = ZMQMonitorEvent(frames: message.frames), event.event == .acceptFailed
                        else { continue }
                        pending.withLock { $0 += 1 }
                        unlogged += 1
                        lastReason = "\(event.errnoDescription) (errno \(event.value)) on \(event.endpoint)"
                    }
                }
            } catch {
                if error.isTerminated { return }
                logger.error("connection monitor failed", metadata: ["error": "\(error)"])
                return
            }
            let now = Clocks.monotonicMicros()
            if unlogged > 0, lastLog.map({ now - $0 >= Self.logIntervalMicros }) ?? true {
                logger.error(
                    "refused connections: accept failed",
                    metadata: [
                        "failures": "\(unlogged)", "reason": "\(lastReason)",
                        "hint": "raise the open-file limit (LimitNOFILE=, ulimit -n) or spread clients over brokers",
                    ])
                unlogged = 0
                lastLog = now
            }
        }
    }
}
