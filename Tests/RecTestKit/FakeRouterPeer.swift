import RecWire
import RecTransport
import RecClient
import Synchronization

/// A ROUTER on a loopback port the OS picks, run on a thread of its own, standing in for a broker
/// in client tests.
///
/// The kit binds the socket, reports the endpoint, and closes the socket and its context when the
/// loop returns; a test supplies only what the peer answers, either as a whole loop
/// (``init(name:run:)``) or per message (``init(name:answer:)``).
public final class FakeRouterPeer: Sendable {
    /// Whether ``stop()`` was called; the loop checks it between polls.
    public final class StopFlag: Sendable {
        private let flag = Atomic<Bool>(false)
        /// Whether the peer should stop.
        public var isStopped: Bool { flag.load(ordering: .acquiring) }
        fileprivate func set() { flag.store(true, ordering: .releasing) }
    }

    /// The bound endpoint, `tcp://127.0.0.1:<port>`.
    public let endpoint: String
    private let stopFlag = StopFlag()

    /// Binds a ROUTER (LINGER 0) and runs `run` on a dedicated thread until it returns.
    /// - Parameters:
    ///   - name: the thread's name.
    ///   - run: the peer's loop; it owns the socket and should return soon after the flag is set.
    /// - Throws: ``ZMQError`` when the socket cannot be made or bound.
    public init(name: String, run: @escaping @Sendable (ZMQSocket, StopFlag) -> Void) async throws {
        let context = ZMQContext()
        let stopFlag = self.stopFlag
        let bound: Result<String, ZMQError> = await withCheckedContinuation { continuation in
            DedicatedThread.start(name: name) {
                let socket: ZMQSocket
                do throws(ZMQError) {
                    socket = try ZMQSocket(context, type: .router)
                    try socket.set(.linger(milliseconds: 0))
                    try socket.bind("tcp://127.0.0.1:*")
                    continuation.resume(returning: .success(try socket.lastEndpoint()))
                } catch {
                    continuation.resume(returning: .failure(error))
                    return
                }
                run(socket, stopFlag)
                socket.close()
                context.shutdown()
            }
        }
        endpoint = try bound.get()
    }

    /// Binds a ROUTER that answers each message on its own: `answer` gets the frames after the
    /// routing identity and returns the reply frames (sent back to that identity), or `nil` for no reply.
    /// - Parameters:
    ///   - name: the thread's name.
    ///   - answer: called on the peer's thread, once per message, in arrival order.
    /// - Throws: ``ZMQError`` when the socket cannot be made or bound.
    public convenience init(name: String, answer: @escaping @Sendable ([[UInt8]]) -> [[UInt8]]?) async throws {
        try await self.init(name: name) { socket, stop in
            var poller = ZMQPoller([PollItem(socket: socket)])
            while !stop.isStopped {
                _ = try? poller.poll(timeoutMilliseconds: 10)
                while let message = try? socket.receive(dontWait: true) {
                    let frames = message.frames
                    guard let identity = frames.first, let reply = answer(Array(frames.dropFirst())) else { continue }
                    _ = try? socket.send(to: identity, reply)
                }
            }
        }
    }

    /// Asks the loop to return; the socket closes on the peer's thread within one poll.
    public func stop() { stopFlag.set() }
}
