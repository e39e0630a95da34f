import Foundation
import RecTestKit
import Testing

@testable import RecData

/// A shop's catalogue names its items as it likes (SKUs, `1…n`, `1001…`): an item is then its row in the catalogue
/// file, and the log, its `viewed` pairs and its affinity columns name items by those ids. A catalogue whose ids are
/// exactly the integers 0…n−1 keeps OBD's meaning, an item is its number, whatever the file's order.
@Suite("A shop's own item ids")
struct NamedItemIdsTests {
    /// Loads a three-item shop whose catalogue lists `ids` in that order, with a log of `logItems` (one row each,
    /// slot 1, clicked when the index is even) and the `viewed` field of each row.
    func load(
        ids: [String], logItems: [String], viewed: [String]? = nil, affinity: Bool = false
    ) throws -> BanditDataset {
        let folder = try TemporaryDirectory("named-ids")
        defer { folder.remove() }
        let catalogue = ["id,price"] + ids.enumerated().map { "\($1),\(10 + $0)" }
        var header = "ts,id,slot,clicked,p,device"
        if viewed != nil { header += ",seen" }
        if affinity { header += "," + ids.map { "past_\($0)" }.joined(separator: ",") }
        var log = [header]
        for (t, item) in logItems.enumerated() {
            var line = "\(t),\(item),1,\(t % 2 == 0 ? 1 : 0),0.5,ios"
            if let viewed { line += ",\(viewed[t])" }
            if affinity { line += "," + ids.map { $0 == item ? "2" : "0" }.joined(separator: ",") }
            log.append(line)
        }
        try catalogue.joined(separator: "\n").write(toFile: folder.path + "/items.csv", atomically: true, encoding: .utf8)
        try log.joined(separator: "\n").write(toFile: folder.path + "/logs.csv", atomically: true, encoding: .utf8)
        let schema = """
            [logs]
            timestamp = "ts"
            item = "id"
            position = "slot"
            click = "clicked"
            propensity = "p"
            \(viewed != nil ? "viewed = \"seen\"" : "")
            \(affinity ? "affinity_prefix = \"past_\"" : "")
            [logs.user_features]
            device = "categorical"
            [catalogue]
            file = "items.csv"
            item = "id"
            [catalogue.item_features]
            price = "numeric"
            """
        return try LogLoader.load(
            logFile: folder.path + "/logs.csv", catalogueFile: folder.path + "/items.csv",
            schema: try DataSchema.parse(schema, path: "shop.toml"), name: "shop")
    }

    /// `data describe` and `data ope` took an id holding a line break that `catalogue upload` refuses: one rule for ids.
    @Test("a catalogue id with a control character is refused naming it, as the upload refuses it", arguments: [
        "\"line\nbreak\"", "tab\there", "nul\u{7}bell",
    ])
    func controlCharacterId(id: String) throws {
        #expect {
            try load(ids: ["SKU-A", id, "SKU-C"], logItems: ["SKU-A"])
        } throws: { error in
            "\(error)".contains("holds the control character U+") && "\(error)".contains("items.csv:")
        }
    }

    @Test("SKUs: an item is its catalogue row, and the log's rows carry that row's features")
    func skus() throws {
        let data = try load(ids: ["SKU-B", "SKU-A", "SKU-C"], logItems: ["SKU-C", "SKU-B", "SKU-A", "SKU-C"])
        #expect(data.nActions == 3)
        #expect(data.action == [2, 0, 1, 2])
        // price is 10 + the catalogue row: row 2 is SKU-C.
        let price = data.actionContext.columns - 1
        #expect(data.actionContext[2, price] == 12 && data.actionContext[0, price] == 10)
    }

    @Test("ids 1…n and 1001… are names too: no id is shifted onto another item")
    func oneBasedAndLargeIds() throws {
        let oneBased = try load(ids: ["1", "2", "3"], logItems: ["3", "1"])
        #expect(oneBased.action == [2, 0])
        let large = try load(ids: ["1002", "1001", "1003"], logItems: ["1001", "1003"])
        #expect(large.action == [1, 2])
    }

    @Test("the integers 0…n−1 in any file order keep OBD's meaning: an item is its number")
    func numberedCatalogue() throws {
        let data = try load(ids: ["2", "0", "1"], logItems: ["0", "2"])
        #expect(data.action == [0, 2])
        // Item 0's row in the file is the second (price 11).
        #expect(data.actionContext[0, data.actionContext.columns - 1] == 11)
    }

    @Test("viewed pairs and affinity columns name items by their ids")
    func historyByIds() throws {
        let viewed = try load(
            ids: ["SKU-B", "SKU-A", "SKU-C"], logItems: ["SKU-A", "SKU-B"],
            viewed: ["SKU-C:30;SKU-B:5", ""])
        // SKU-C (row 2) viewed 30 s: 3 engagements; SKU-B's 5 s is a glance.
        #expect(viewed.affinity.entries(0).map(\.column) == [2] && viewed.affinity.entries(0).map(\.value) == [3])
        #expect(viewed.affinity.isEmpty(1))
        // The views as the online policy served them: every view with its seconds, the glance too.
        #expect(viewed.viewedSeconds?.entries(0).map(\.column) == [0, 2])
        #expect(viewed.viewedSeconds?.entries(0).map(\.value) == [5, 30])
        #expect(viewed.viewedSeconds?.isEmpty(1) == true)
        let affinity = try load(ids: ["SKU-B", "SKU-A", "SKU-C"], logItems: ["SKU-A"], affinity: true)
        #expect(affinity.viewedSeconds == nil)
        #expect(affinity.affinity.value(0, 1) == 2 && affinity.affinity.value(0, 0) == 0)
    }

    /// An id holding `;` (the pairs' separator) was refused: `c;d:30` was read as `c` and `d:30`.
    @Test("a viewed pair names an id that holds ';' or ':', beside other pairs")
    func separatorInAnId() throws {
        let viewed = try load(
            ids: ["c;d", "a:b", "c"], logItems: ["c", "a:b"], viewed: ["c;d:30;c:12;a:b:40", ""])
        #expect(viewed.viewedSeconds?.entries(0).map(\.column) == [0, 1, 2])
        #expect(viewed.viewedSeconds?.entries(0).map(\.value) == [30, 40, 12])
        // `c;d;c:20`: `c;d` names no pair (no seconds), and `d;c` no item, so the pair refused is named.
        #expect {
            _ = try load(ids: ["c;d", "a:b", "c"], logItems: ["c", "a:b"], viewed: ["", "c;d;c:20"])
        } throws: { "\($0)".contains("holds 'c'") }
    }

    @Test("a log naming no catalogue item is refused, naming the file, line and id")
    func unknownId() throws {
        #expect {
            _ = try load(ids: ["SKU-B", "SKU-A"], logItems: ["SKU-A", "SKU-Z"])
        } throws: { error in
            let text = "\(error)"
            return text.contains("logs.csv:3") && text.contains("'SKU-Z' is not an item id of the catalogue")
        }
        #expect {
            _ = try load(ids: ["SKU-B", "SKU-A"], logItems: ["SKU-A"], viewed: ["SKU-Q:12"])
        } throws: { error in "\(error)".contains("holds 'SKU-Q:12'") }
    }
}
