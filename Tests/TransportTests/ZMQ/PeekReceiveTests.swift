import RecTransport
import Testing

/// `ZMQSocket.receive(peekFrames:keepRest:)`, which the broker uses to refuse a request on its
/// header without copying its payload, over an `inproc://` DEALER → ROUTER pair.
@Suite("Receiving on a peek")
struct PeekReceiveTests {
    @Test("refused after the peek, the rest of a message is dropped and counted; kept, it arrives whole")
    func peekThenDropOrKeep() throws {
        let context = ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        defer { router.close() }
        let dealer = try ZMQSocket(context, type: .dealer)
        defer { dealer.close() }
        try router.bind("inproc://peek-receive")
        try dealer.connect("inproc://peek-receive")
        let big = [UInt8](repeating: 7, count: 100_000)
        try dealer.send([[1], big, [2, 2]])
        try dealer.send([[3], big])
        try dealer.send([[4]])

        var seen: [[[UInt8]]] = []
        let dropped = try #require(
            try router.receive(peekFrames: 2) { leading in
                seen.append(Array(leading.frames.dropFirst()))
                return false
            })
        #expect(dropped.frames.count == 2 && dropped.frames[1] == [1])
        #expect(dropped.discardedFrames == 2)

        let kept = try #require(
            try router.receive(peekFrames: 2) { leading in
                seen.append(Array(leading.frames.dropFirst()))
                return true
            })
        #expect(Array(kept.frames.dropFirst()) == [[3], big])
        #expect(kept.discardedFrames == 0)

        // Nothing follows the peeked frames: the decision is not asked for, and nothing is dropped.
        let short = try #require(try router.receive(peekFrames: 2) { _ in Issue.record("asked"); return false })
        #expect(Array(short.frames.dropFirst()) == [[4]])
        #expect(short.discardedFrames == 0)
        #expect(seen == [[[1]], [[3]]])
        #expect(try router.receive(dontWait: true) == nil)
    }
}

/// The whole message's size, known before any of its payload is copied.
@Suite("Receiving: message size before the copy")
struct ReceiveSizeTests {
    @Test("the peek sees the byte and frame count of the whole message, and a refused message is not copied")
    func sizeOnPeek() throws {
        let context = ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        defer { router.close() }
        let dealer = try ZMQSocket(context, type: .dealer)
        defer { dealer.close() }
        try router.bind("inproc://receive-size")
        try dealer.connect("inproc://receive-size")
        let big = [UInt8](repeating: 7, count: 1 << 20)
        try dealer.send([[1], big, big, [2, 2]])
        var seen: (bytes: Int, frames: Int)?
        let message = try #require(
            try router.receive(peekFrames: 2) { leading in
                seen = (leading.byteCount - leading.frames[0].count, leading.frameCount - 1)
                return false
            })
        #expect(seen?.bytes == 1 + 2 * (1 << 20) + 2)
        #expect(seen?.frames == 4)
        #expect(message.frames.count == 2 && message.discardedFrames == 3)
        #expect(message.frameCount == 5)
        // Twenty frames: more than are held for the decision; all are counted, none kept past the peek.
        try dealer.send([[UInt8]](repeating: [9], count: 20))
        let many = try #require(try router.receive(peekFrames: 2) { _ in false })
        #expect(many.frameCount == 21 && many.byteCount - many.frames[0].count == 20)
    }
}
