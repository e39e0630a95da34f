import RecTransport
import Testing

/// Zero-copy forwarding (issue #19): frames a ROUTER holds inside libzmq (`ZMQRestFrames.hold`) are
/// forwarded with `sendFrame(_: ZMQFrame, …)` and arrive byte-identical, over real tcp sockets.
@Suite("Forwarding held frames")
struct HeldFrameTests {
    /// A DEALER → ROUTER (frontend) and ROUTER (backend) ← DEALER chain on loopback ports the OS picks.
    struct Chain {
        let context = ZMQContext()
        let client: ZMQSocket
        let frontend: ZMQSocket
        let backend: ZMQSocket
        let worker: ZMQSocket

        init() throws {
            client = try ZMQSocket(context, type: .dealer)
            frontend = try ZMQSocket(context, type: .router)
            backend = try ZMQSocket(context, type: .router)
            worker = try ZMQSocket(context, type: .dealer)
            try worker.set(.routingId(Array("worker".utf8)))
            try frontend.bind("tcp://127.0.0.1:*")
            try backend.bind("tcp://127.0.0.1:*")
            try client.connect(try frontend.lastEndpoint())
            try worker.connect(try backend.lastEndpoint())
        }

        func close() {
            for socket in [client, frontend, backend, worker] { socket.close() }
        }
    }

    @Test("held payload frames (inline-sized and large) arrive byte-identical, and can be forwarded twice")
    func forwardedByteIdentical() throws {
        let chain = try Chain()
        defer { chain.close() }
        // The worker says hello so the backend can route to it.
        try chain.worker.send([[0]])
        _ = try #require(try chain.backend.receive())
        var generator = SystemRandomNumberGenerator()
        let large = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let small: [UInt8] = [1, 2, 3, 4, 5]
        let empty: [UInt8] = []
        try chain.client.send([[9, 9], large, small, empty])
        let received = try #require(
            try chain.frontend.receive(peekFrames: 2) { leading in
                #expect(leading.frames.dropFirst().first == [9, 9])
                return .hold
            })
        #expect(received.frames.count == 2)
        #expect(received.held.map(\.count) == [large.count, small.count, 0])
        #expect(received.held[0].withUnsafeBytes { Array($0) } == large)
        for round in 0..<2 {
            #expect(try chain.backend.sendFrame(Array("worker".utf8), more: true, dontWait: true))
            try chain.backend.sendFrame([UInt8(round)], more: true)
            for (index, frame) in received.held.enumerated() {
                try chain.backend.sendFrame(frame, more: index < received.held.count - 1)
            }
            let forwarded = try #require(try chain.worker.receive())
            #expect(forwarded.frames == [[UInt8(round)], large, small, empty])
        }
    }

    @Test("copy and discard still behave as before when asked for")
    func copyAndDiscard() throws {
        let chain = try Chain()
        defer { chain.close() }
        try chain.client.send([[1], [5, 6, 7]])
        try chain.client.send([[2], [8]])
        let copied = try #require(try chain.frontend.receive(peekFrames: 2) { _ in .copy })
        #expect(Array(copied.frames.dropFirst()) == [[1], [5, 6, 7]] && copied.held.isEmpty)
        let discarded = try #require(try chain.frontend.receive(peekFrames: 2) { _ in .discard })
        #expect(discarded.frames.count == 2 && discarded.held.isEmpty && discarded.discardedFrames == 1)
    }
}
