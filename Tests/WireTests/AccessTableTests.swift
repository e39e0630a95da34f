import Foundation
import RecWire
import Testing

/// The role tables of docs/PROTOCOL.md ("Security") and docs/SECURITY.md ("How it works") against
/// `ControlOperation.access`, the code that decides: a table that forgets an operation misleads an operator about
/// what a client key may read or change.
@Suite("The documented role tables name every CONTROL operation as the code allows it")
struct AccessTableTests {
    /// The repository root, from this file's path (Tests/WireTests/…).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The CONTROL op names (`` `name` ``) written in the table row that starts with `` | `role` | ``.
    static func documentedOps(role: String, in document: String) throws -> Set<String> {
        let text = try String(contentsOf: root.appendingPathComponent(document), encoding: .utf8)
        let row = try #require(
            text.split(separator: "\n").first { $0.hasPrefix("| `\(role)` |") }, "\(document) has no `\(role)` row")
        let names = row.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        let known = Set(ControlOperation.allCases.map(\.name))
        return Set(names).intersection(known)
    }

    @Test("client rows list exactly the read-only operations, trainer rows exactly the changing ones",
          arguments: ["docs/PROTOCOL.md", "docs/SECURITY.md"])
    func tablesMatchCode(document: String) throws {
        let readOnly = Set(ControlOperation.allCases.filter { $0.access == .readOnly }.map(\.name))
        let trainer = Set(ControlOperation.allCases.filter { $0.access == .trainer }.map(\.name))
        #expect(try Self.documentedOps(role: "client", in: document) == readOnly)
        // A client's operations are a trainer's too; the trainer row names the ones only a trainer may run.
        #expect(try Self.documentedOps(role: "trainer", in: document).subtracting(readOnly) == trainer)
    }
}
