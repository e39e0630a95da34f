import Foundation
import Testing

@testable import RecStore
import RecTestKit

/// A state directory's schema is this build's, or it is refused as damage (exit 65 for the broker), never served
/// on: one a newer build migrated holds rows this build cannot read, and one whose record of applied migrations was
/// damaged fails a migration halfway. Before, the first was served silently and the second exited 73 ("worth
/// retrying"), so a supervisor restarted it in a loop.
@Suite("The state directory's schema")
struct SchemaMigrationTests {
    static func refusal(_ directory: String) -> String? {
        do {
            _ = try RecStore(directory: directory)
            return nil
        } catch {
            guard case .corruptDatabase(_, let problems) = error as? StoreError else { return "other: \(error)" }
            return problems.joined()
        }
    }

    @Test("a schema a newer build migrated is refused, naming the migration this build does not know")
    func newerBuild() throws {
        let temporary = try TemporaryDirectory("schema-newer")
        defer { temporary.remove() }
        _ = try RecStore(directory: temporary.path)
        try UnreadableValueTests.damage(
            temporary.path, "INSERT INTO grdb_migrations (identifier) VALUES ('v99-written-by-a-newer-recpool')")
        let problem = try #require(Self.refusal(temporary.path))
        #expect(problem.contains("migrated by another (newer) RecPool") && problem.contains("v99-written-by-a-newer-recpool"))
    }

    @Test("a damaged record of applied migrations is refused as damage, naming the mismatch")
    func damagedRecord() throws {
        let temporary = try TemporaryDirectory("schema-record")
        defer { temporary.remove() }
        _ = try RecStore(directory: temporary.path)
        try UnreadableValueTests.damage(
            temporary.path, "DELETE FROM grdb_migrations WHERE identifier = 'v7-promotion-rollbacks'")
        let problem = try #require(Self.refusal(temporary.path))
        #expect(problem.contains("does not match the migrations recorded as applied"), "\(problem)")
        // A store of this build's schema opens again and again.
        let fresh = try TemporaryDirectory("schema-fresh")
        defer { fresh.remove() }
        _ = try RecStore(directory: fresh.path)
        #expect(Self.refusal(fresh.path) == nil)
    }
}
