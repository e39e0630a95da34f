import RecTestKit
import RecWire
import Testing

@testable import RecClient

/// A SCORE reply that breaks the protocol is a protocol violation naming what broke (`recpool` exits 7), never a
/// server error with an empty message or a size error about bytes that are right.
@Suite("Client: SCORE replies that break the protocol")
struct ReplyShapeTests {
    /// Answers every request with `reply(header)`'s frames.
    static func broker(_ reply: @escaping @Sendable (Header) -> [[UInt8]]) async throws -> FakeRouterPeer {
        try await FakeRouterPeer(name: "reply-shapes") { frames in
            guard let header = try? Header(decoding: frames[0]), header.command == .score else { return nil }
            return reply(header)
        }
    }

    static func outcome(_ reply: @escaping @Sendable (Header) -> [[UInt8]]) async throws -> String {
        let peer = try await broker(reply)
        defer { peer.stop() }
        var options = RecPoolClient.Options()
        options.timeoutMs = 5_000
        let client = try await RecPoolClient(endpoint: peer.endpoint, options: options)
        defer { client.close() }
        do {
            _ = try await client.score(rows: [[1, 2, 3], [4, 5, 6]])
            return "ok"
        } catch {
            guard case .protocolViolation(let why) = error else { return "not a violation: \(error)" }
            return why.description
        }
    }

    @Test("one score for two rows, and a 2×2 tensor, name the shape")
    func shapes() async throws {
        let one = try await Self.outcome { header in
            [header.reply(status: .ok).encoded(), Tensor(rows: 1, cols: 1, values: [0.5]).encoded()]
        }
        #expect(one == "a 1×1 score tensor for 2 rows (expected 2×1)")
        let square = try await Self.outcome { header in
            [header.reply(status: .ok).encoded(), Tensor(rows: 2, cols: 2, values: [0.5, 0.1, 0.2, 0.1]).encoded()]
        }
        #expect(square == "a 2×2 score tensor for 2 rows (expected 2×1)")
    }

    @Test("an error reply without its message frame, and a reply of another command, are violations")
    func framesAndCommand() async throws {
        let bare = try await Self.outcome { header in [header.reply(status: .badRequest).encoded()] }
        #expect(bare == "a BAD_REQUEST reply with 0 payload frames instead of one message")
        let other = try await Self.outcome { header in
            var reply = header.reply(status: .ok)
            reply.command = .recommend
            return [reply.encoded(), Array("{}".utf8)]
        }
        #expect(other == "unexpected command: a RECOMMEND reply to a SCORE request")
    }
}
