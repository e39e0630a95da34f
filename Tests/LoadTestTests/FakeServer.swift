import RecTestKit
import RecTransport
import RecWire
import Synchronization

/// A ROUTER speaking the RecPool protocol that answers SCORE after a fixed delay with known timing
/// fields. The first value of a request's tensor picks what happens: `busyMarker` gets an
/// immediate BUSY, `silentMarker` gets no answer at all, anything else an OK reply after `delayMs`.
final class FakeServer: Sendable {
    static let busyMarker: Float = 999
    static let silentMarker: Float = -999
    static let timings = (broker: UInt32(1_000), worker: UInt32(2_000), compute: UInt32(3_000))

    /// The bound endpoint.
    var endpoint: String { peer.endpoint }
    private let peer: FakeRouterPeer

    /// Binds to a free loopback port and starts answering on a thread of its own.
    init(delayMs: UInt64) async throws {
        peer = try await FakeRouterPeer(name: "fake-server") { socket, stop in
            FakeServer.serve(socket, delayMicros: delayMs * 1000, stop: stop)
        }
    }

    func stop() { peer.stop() }

    private static func serve(_ socket: ZMQSocket, delayMicros: UInt64, stop: FakeRouterPeer.StopFlag) {
        var poller = ZMQPoller([PollItem(socket: socket)])
        var pending: [(due: UInt64, frames: [[UInt8]])] = []
        while !stop.isStopped {
            let now = Clocks.monotonicMicros()
            let nextDue = pending.map(\.due).min()
            let timeout = nextDue.map { $0 > now ? Int(($0 - now) / 1000) : 0 } ?? 10
            _ = try? poller.poll(timeoutMilliseconds: min(timeout, 10))
            while let message = try? socket.receive(dontWait: true) {
                let frames = message.frames
                guard frames.count >= 3, let header = try? Header(decoding: frames[1]),
                    let tensor = try? Tensor(decoding: frames[2], requireFinite: true)
                else { continue }
                if tensor.values[0] == silentMarker { continue }
                if tensor.values[0] == busyMarker {
                    var reply = WireMessage.errorReply(
                        to: header, status: .busy, message: "queue full", retryAfterMs: 5)
                    reply.header.brokerQueueMicros = 0
                    _ = try? socket.send(to: frames[0], reply.frames())
                    continue
                }
                var h = header.reply(status: .ok)
                h.brokerQueueMicros = timings.broker
                h.workerQueueMicros = timings.worker
                h.computeMicros = timings.compute
                let scores = Tensor(rows: tensor.rows, cols: 1, values: [Float](repeating: 0.5, count: tensor.rows))
                pending.append(
                    (
                        Clocks.monotonicMicros() + delayMicros,
                        WireMessage(header: h, payload: [scores.encoded()]).frames().with(identity: frames[0])
                    ))
            }
            let t = Clocks.monotonicMicros()
            pending.removeAll { item in
                guard item.due <= t else { return false }
                _ = try? socket.send(item.frames)
                return true
            }
        }
    }
}

extension Array where Element == [UInt8] {
    fileprivate func with(identity: [UInt8]) -> [[UInt8]] { [identity] + self }
}
