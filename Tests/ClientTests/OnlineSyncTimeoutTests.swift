import Testing

@testable import RecClient

/// `recpool online sync` and `online freeze` wait at least 150 s, whatever `--timeout-ms` says, as their help and
/// docs/ONLINE.md say.
@Suite("Client: the wait of an online sync or freeze")
struct OnlineSyncTimeoutTests {
    /// A helper's case: `recpool online sync --timeout-ms 1000` gave up after 2.5 s on a sync the broker then finished.
    @Test("a shorter --timeout-ms is raised to 150 s, a longer one is kept, none keeps the client's default")
    func floor() {
        #expect(RecPoolClient.onlineSyncTimeout(requested: 1_000) == 150_000)
        #expect(RecPoolClient.onlineSyncTimeout(requested: 0) == 150_000)
        #expect(RecPoolClient.onlineSyncTimeout(requested: 150_000) == 150_000)
        #expect(RecPoolClient.onlineSyncTimeout(requested: 400_000) == 400_000)
        #expect(RecPoolClient.onlineSyncTimeout(requested: nil) == nil)
    }
}
