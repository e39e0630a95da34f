import GRDB
import RecStore
import RecWire
import Testing

@testable import Broker
@testable import BrokerCore

/// A stored policy spec that decodes but cannot be served (edited, or damaged) was taken for a changed configuration:
/// the broker logged "the configured online policy differs" and served a new version built from its flags. It is
/// damaged state, named where it is stored.
@Suite("A stored online policy spec that cannot be served is named as damaged")
struct StoredPolicySpecTests {
    /// Edits the newest stored version's spec with `edit`, in SQLite, as damage or a hand edit would.
    static func damageNewestSpec(in directory: String, _ edit: (inout OnlinePolicySpec) -> Void) throws -> UInt64 {
        let store = try RecStore(directory: directory)
        let row = try #require(try store.latestPolicyVersion())
        var spec = try WireJSON.decode(OnlinePolicySpec.self, from: Array(row.spec.utf8))
        edit(&spec)
        let text = String(decoding: WireJSON.encode(spec), as: UTF8.self)
        try DatabaseQueue(path: "\(directory)/recpool.sqlite").write { db in
            try db.execute(
                sql: "UPDATE policy_versions SET spec = ? WHERE version = ?", arguments: [text, Int64(row.version)])
        }
        return row.version
    }

    @Test(
        "the start stops naming table, row and column, and stores nothing over the damaged version",
        arguments: [
            ("slate size 0", "slate_size must be 1...1000"), ("id buckets 0", "id_buckets must be"),
            ("a user feature twice", "a user feature name appears twice"),
        ])
    func startRefuses(_ damage: String, _ problem: String) throws {
        let h = try OnlineHarness()
        let version = try Self.damageNewestSpec(in: h.directory) { spec in
            switch damage {
            case "slate size 0": spec.slateSize = 0
            case "id buckets 0": spec.idBuckets = 0
            default: spec.userFeatures.append(spec.userFeatures[0])
            }
        }
        #expect {
            try h.open(settings: OnlineSettings())
        } throws: { error in
            guard let error = error as? StoreError, case .corruptColumn = error else { return false }
            return "\(error)".contains("table policy_versions, row version = \(version), column spec")
                && "\(error)".contains("the stored spec cannot be served: \(problem)")
                && ControlPlane.isUnreadable(error)
        }
        #expect(try RecStore(directory: h.directory).latestPolicyVersion()?.version == version)
    }

    @Test("online_policy for a stored version whose spec cannot be served answers INTERNAL naming where it is")
    func onlinePolicyNamesIt() throws {
        let h = try OnlineHarness()
        let damaged = try Self.damageNewestSpec(in: h.directory) { $0.slateSize = 0 }
        // Another version is served now; the damaged one is only read back on request.
        var served = try #require(try RecStore(directory: h.directory).latestPolicyVersion())
        served.version = damaged + 1
        let store = try RecStore(directory: h.directory)
        var spec = try WireJSON.decode(OnlinePolicySpec.self, from: Array(served.spec.utf8))
        spec.slateSize = 3
        served.spec = String(decoding: WireJSON.encode(spec), as: UTF8.self)
        try store.savePolicyVersion(served, createdMs: 2_000)
        try h.open(settings: OnlineSettings())
        _ = h.take()
        var request = ControlRequest(op: "online_policy")
        request.version = damaged
        h.coordinator.handleControl(identity: [9], header: Header(command: .control, requestId: 5), request: request, nowMs: 3_000)
        let reply = try #require(h.clientReplies().last)
        #expect(reply.header.status == .internal)
        let text = String(decoding: try reply.frame(0), as: UTF8.self)
        #expect(text.contains("table policy_versions, row version = \(damaged), column spec"), "\(text)")
        #expect(text.contains("slate_size must be 1...1000"), "\(text)")
    }
}
