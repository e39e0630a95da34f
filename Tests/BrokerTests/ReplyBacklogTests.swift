import Testing

@testable import Broker

/// Replies that meet a client's full send queue wait in order, within the client's byte budget and for at most
/// ``ReplyBacklog/maximumAgeMicros``; a client found gone takes its waiting replies with it.
@Suite("The reply backlog")
struct ReplyBacklogTests {
    struct Gone: Error {}

    /// A fake send queue: takes replies while it has room.
    final class Queue {
        var room = 0
        var sent: [[UInt8]] = []
        var gone = false
        func send(_ identity: [UInt8], _ frames: [[UInt8]]) throws -> Bool {
            if gone { throw Gone() }
            guard room > 0 else { return false }
            room -= 1
            sent.append(frames[0])
            return true
        }
    }

    func waiting(_ outcome: ReplyBacklog.Outcome) -> Bool {
        if case .waiting = outcome { return true }
        return false
    }

    @Test("a reply past a full queue waits, later replies wait behind it, and all leave in order once there is room")
    func order() throws {
        let backlog = ReplyBacklog(limitBytes: 1_000)
        let queue = Queue()
        queue.room = 1
        let client: [UInt8] = [1]
        for n in UInt8(1)...4 { _ = try backlog.send([[n]], to: client, now: 0, through: queue.send) }
        #expect(queue.sent == [[1]] && backlog.count == 3)
        // Room again: reply 4 may not overtake 2 and 3.
        queue.room = 2
        _ = backlog.flush(now: 1, through: queue.send)
        #expect(queue.sent == [[1], [2], [3]] && backlog.count == 1)
        queue.room = 5
        #expect(waiting(try backlog.send([[5]], to: client, now: 2, through: queue.send)))
        _ = backlog.flush(now: 3, through: queue.send)
        #expect(queue.sent == [[1], [2], [3], [4], [5]] && backlog.isEmpty)
        // Another client's replies never wait behind this one's.
        queue.room = 0
        _ = try backlog.send([[6]], to: client, now: 4, through: queue.send)
        queue.room = 1
        _ = try backlog.send([[7]], to: [2], now: 4, through: queue.send)
        #expect(queue.sent.last == [7])
    }

    @Test("past the client's byte budget a reply is dropped; after the maximum age a waiting reply is dropped")
    func bounds() throws {
        let backlog = ReplyBacklog(limitBytes: 10)
        let queue = Queue()
        let client: [UInt8] = [1]
        #expect(waiting(try backlog.send([[UInt8](repeating: 1, count: 6)], to: client, now: 0, through: queue.send)))
        guard case .dropped = try backlog.send([[UInt8](repeating: 2, count: 6)], to: client, now: 0, through: queue.send)
        else {
            Issue.record("a reply past the budget was kept")
            return
        }
        #expect(waiting(try backlog.send([[3, 3, 3, 3]], to: client, now: 5, through: queue.send)))
        let old = backlog.flush(now: ReplyBacklog.maximumAgeMicros + 1, through: queue.send)
        #expect(old.count == 1 && backlog.count == 1)
        if case .dropped(let frames) = old.first { #expect(frames.first?.count == 6) } else { Issue.record("\(old)") }
        queue.room = 1
        _ = backlog.flush(now: ReplyBacklog.maximumAgeMicros + 2, through: queue.send)
        #expect(queue.sent == [[3, 3, 3, 3]] && backlog.isEmpty)
    }

    @Test("the retry delay backs off while nothing leaves, and is 1 ms again once a reply does")
    func backoff() throws {
        let backlog = ReplyBacklog(limitBytes: 100)
        let queue = Queue()
        _ = try backlog.send([[1]], to: [1], now: 0, through: queue.send)
        #expect(backlog.retryDelayMs == 1)
        var delays: [Int] = []
        for step in 1...8 {
            _ = backlog.flush(now: UInt64(step), through: queue.send)
            delays.append(backlog.retryDelayMs)
        }
        #expect(delays == [2, 4, 8, 16, 32, 64, 64, 64])
        queue.room = 1
        _ = backlog.flush(now: 9, through: queue.send)
        #expect(backlog.retryDelayMs == 1 && backlog.isEmpty)
    }

    @Test("a client found gone while replies wait takes them with it")
    func unreachable() throws {
        let backlog = ReplyBacklog(limitBytes: 100)
        let queue = Queue()
        for n in UInt8(1)...3 { _ = try backlog.send([[n]], to: [9], now: 0, through: queue.send) }
        queue.gone = true
        let outcomes = backlog.flush(now: 1, through: queue.send)
        #expect(backlog.isEmpty && outcomes.count == 1)
        if case .unreachable(let identity, let lost) = outcomes.first {
            #expect(identity == [9] && lost == 3)
        } else {
            Issue.record("\(outcomes)")
        }
        #expect(backlog.removeAll().isEmpty)
    }
}
