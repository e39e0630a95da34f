import Foundation
import RecData
import RecTestKit
import Testing

/// ``ItemCatalogue``: SKU ids, the encoding of raw fields, stable rows across add and retire.
@Suite("Item catalogue")
struct ItemCatalogueTests {
    static let schema = DataSchema.Catalogue(
        file: "items.csv", item: "sku", itemFeatures: [.init("category", .categorical), .init("price", .numeric)])

    static func write(_ text: String) throws -> (TemporaryDirectory, String) {
        let folder = try TemporaryDirectory("catalogue")
        let path = folder.file("items.csv").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (folder, path)
    }

    @Test("a CSV with SKU ids loads: one-hot categories in sorted order, then numeric features")
    func load() throws {
        let (folder, path) = try Self.write("sku,category,price\nA-1,shoes,3.5\nB-2,hats,1\nC-3,shoes,2\n")
        defer { folder.remove() }
        let catalogue = try ItemCatalogue.load(path: path, schema: Self.schema)
        #expect(catalogue.ids == ["A-1", "B-2", "C-3"])
        #expect(catalogue.encoding.featureNames == ["category=hats", "category=shoes", "price"])
        #expect(Array(catalogue.row(0)) == [0, 1, 3.5])
        #expect(Array(catalogue.row(1)) == [1, 0, 1])
        #expect(catalogue.index(of: "C-3") == 2)
        #expect(catalogue.activeIndices == [0, 1, 2])
    }

    @Test("add appends a row (an unseen category encodes as zeros); retire keeps the row and clears it")
    func addAndRetire() throws {
        let (folder, path) = try Self.write("sku,category,price\nA-1,shoes,3.5\nB-2,hats,1\n")
        defer { folder.remove() }
        var catalogue = try ItemCatalogue.load(path: path, schema: Self.schema)
        let row = try catalogue.add(id: "N-9", fields: ["category": "socks", "price": "0.5"])
        #expect(row == 2)
        #expect(Array(catalogue.row(2)) == [0, 0, 0.5])
        try catalogue.retire(id: "A-1")
        #expect(catalogue.activeIndices == [1, 2])
        #expect(catalogue.index(of: "A-1") == 0)
        #expect(catalogue.activeCount == 2 && catalogue.count == 3)
        #expect(throws: DataError.inconsistent("item A-1 is already retired")) { try catalogue.retire(id: "A-1") }
        // A row number where an id belongs (recommend prints rows): the refusal names the id of that row.
        #expect(throws: DataError.inconsistent("no item 1 in the catalogue (items are named by id: row 1, as recommend prints it, is B-2)")) {
            try catalogue.retire(id: "1")
        }
        #expect(throws: DataError.inconsistent("no item 7 in the catalogue")) { try catalogue.retire(id: "7") }
        #expect(throws: DataError.inconsistent("no item Z-0 in the catalogue")) { try catalogue.retire(id: "Z-0") }
        #expect(throws: DataError.self) { try catalogue.add(id: "A-1", fields: ["price": "1"]) }
        #expect(throws: DataError.self) { try catalogue.add(id: "X", fields: ["price": "nan"]) }
        // Finite as a Double, infinite as the Float the catalogue holds: refused, and nothing is added.
        #expect {
            try catalogue.add(id: "Y", fields: ["price": "1e39"])
        } throws: { error in
            "\(error)".contains("item Y") && "\(error)".contains("32-bit float")
        }
        #expect(catalogue.count == 3 && catalogue.index(of: "Y") == nil)
        #expect(try ItemCatalogue(canonical: try catalogue.canonicalBytes()).ids == catalogue.ids)
        #expect(throws: DataError.self) { try catalogue.retire(id: "nope") }
    }

    @Test("a sku role names the items and orders rows by the item number; an active role retires the 0 rows")
    func skuAndActive() throws {
        let schema = DataSchema.Catalogue(
            file: "items.csv", item: "item_id", sku: "item_sku", active: "active",
            itemFeatures: [.init("price", .numeric)], ignore: [""])
        let (folder, path) = try Self.write(
            ",item_id,item_sku,active,price\n0,2,C-3,1,3\n1,0,A-1,0,1\n2,1,B-2,true,2\n")
        defer { folder.remove() }
        let catalogue = try ItemCatalogue.load(path: path, schema: schema)
        #expect(catalogue.ids == ["A-1", "B-2", "C-3"])
        #expect(catalogue.features == [1, 2, 3])
        #expect(catalogue.active == [false, true, true] && catalogue.activeIndices == [1, 2])
        // The schema's TOML keeps both roles.
        let full = DataSchema(
            logs: .init(timestamp: "t", item: "i", position: "p", outcome: "c", propensity: "q", userFeatures: [.init("u", .categorical)]),
            catalogue: schema)
        let text = full.toml()
        #expect(text.contains("sku = \"item_sku\"") && text.contains("active = \"active\""))
        #expect(try DataSchema.parse(text, path: "s.toml").catalogue == schema)
        for (bad, says) in [
            (",item_id,item_sku,active,price\n0,0,A-1,2,1\n", #"'active': '2' is not 1 or 0"#),
            (",item_id,item_sku,active,price\n0,0,A-1,1,1\n1,0,B-2,1,1\n", "is item '0' again"),
            (",item_id,item_sku,active,price\n0,0,A-1,1,1\n1,1,A-1,1,1\n", "is item 'A-1' again"),
            (",item_id,item_sku,price\n0,0,A-1,1\n", #"no "active" column"#),
        ] {
            let (badFolder, badPath) = try Self.write(bad)
            defer { badFolder.remove() }
            #expect {
                try ItemCatalogue.load(path: badPath, schema: schema)
            } throws: { error in
                "\(error)".contains(says)
            }
        }
    }

    @Test("the log loader refuses the SKUs and active flags an upload refuses, naming the line")
    func loaderChecksRoleColumns() throws {
        let schema = DataSchema(
            logs: .init(
                timestamp: "ts", item: "item", position: "pos", outcome: "click", propensity: "p",
                userFeatures: [.init("u", .categorical)]),
            catalogue: .init(
                file: "items.csv", item: "item", sku: "code", active: "live", itemFeatures: [.init("price", .numeric)]))
        let log = try CSVTable.parse(Array("ts,item,pos,click,p,u\n1,0,1,1,0.5,a\n2,1,1,0,0.5,b\n".utf8), path: "logs.csv")
        func load(_ items: String) throws -> BanditDataset {
            try LogLoader.build(
                log: log, catalogue: CSVTable.parse(Array(items.utf8), path: "items.csv"), schema: schema, name: "shop")
        }
        #expect(try load("item,code,live,price\n0,A,1,1\n1,B,0,2\n").nActions == 2)
        for (items, says) in [
            ("item,code,live,price\n0,A,yes,1\n1,B,0,2\n", "'yes' is not 1 or 0"),
            ("item,code,live,price\n0,A,1,1\n1,A,1,2\n", "is item 'A' again"),
            ("item,code,live,price\n0,,1,1\n1,B,1,2\n", "is an empty item id"),
        ] {
            #expect {
                try load(items)
            } throws: { error in
                "\(error)".contains(says) && "\(error)".contains("items.csv")
            }
        }
    }

    @Test("a repeated id, an empty id or a bad number is refused naming the line", arguments: [
        "sku,category,price\nA,shoes,1\nA,hats,2\n", "sku,category,price\n,shoes,1\n", "sku,category,price\nA,shoes,x\n",
        "sku,category\nA,shoes\n", "sku,category,price\nA,shoes,1e39\n",
    ])
    func refused(_ text: String) throws {
        let (folder, path) = try Self.write(text)
        defer { folder.remove() }
        #expect(throws: DataError.self) { try ItemCatalogue.load(path: path, schema: Self.schema) }
    }

    /// An id with a newline forged a broker log line, and a carriage return left by a CRLF file made a second,
    /// invisible item that `retire` could not name: ids with control characters are refused, in a file and in `add`.
    @Test("an item id holding a control character is refused, naming it, in the CSV and in add")
    func controlCharacters() throws {
        let (folder, path) = try Self.write("sku,category,price\nA-1,shoes,3.5\n\"B\r\",hats,1\n")
        defer { folder.remove() }
        #expect(throws: DataError.self) { try ItemCatalogue.load(path: path, schema: Self.schema) }
        let (good, goodPath) = try Self.write("sku,category,price\nA-1,shoes,3.5\n")
        defer { good.remove() }
        var catalogue = try ItemCatalogue.load(path: goodPath, schema: Self.schema)
        for id in ["N\nL", "CR\r", "x\u{0}y", "tab\tid", "del\u{7F}"] {
            do {
                try catalogue.add(id: id, fields: ["category": "socks", "price": "1"])
                Issue.record("\(id.debugDescription) was added")
            } catch {
                #expect("\(error)".contains("control character U+"), "\(error)")
            }
        }
        // Invisible format characters (Unicode Cf) made a second item that prints as the first: `A-1` + U+2060.
        for (id, code) in [("A-1\u{2060}", "U+2060"), ("A\u{200D}-1", "U+200D"), ("A-\u{AD}1", "U+00AD"),
                           ("\u{FEFF}A-1", "U+FEFF"), ("A-1\u{202E}", "U+202E")] {
            do {
                try catalogue.add(id: id, fields: ["category": "socks", "price": "1"])
                Issue.record("\(id.debugDescription) was added")
            } catch {
                #expect("\(error)".contains("invisible format character \(code)"), "\(error)")
            }
        }
        #expect(catalogue.ids == ["A-1"])
        try catalogue.add(id: "ünïcode-ok", fields: ["category": "socks", "price": "1"])
        // A 2 MB id was stored and served, and no CONTROL document (1 MiB) could retire it: refused on add and in a
        // file, by its length; an id of exactly the limit (in UTF-8 bytes) is taken.
        let long = String(repeating: "é", count: ItemCatalogue.maximumIdBytes / 2 + 1)
        do {
            try catalogue.add(id: long, fields: ["category": "socks", "price": "1"])
            Issue.record("a \(long.utf8.count)-byte id was added")
        } catch {
            #expect("\(error)".contains("is 1026 bytes long, more than the 1024 bytes an item id may hold"), "\(error)")
        }
        let (wide, widePath) = try Self.write("sku,category,price\nA-1,shoes,3.5\n\(long),hats,1\n")
        defer { wide.remove() }
        #expect {
            try ItemCatalogue.load(path: widePath, schema: Self.schema)
        } throws: { error in "\(error)".contains(":3:") && "\(error)".contains("1026 bytes long") }
        try catalogue.add(id: String(repeating: "é", count: ItemCatalogue.maximumIdBytes / 2), fields: ["category": "socks", "price": "1"])
    }

    /// What the online policy standardises a column with (`OnlinePolicySpec.itemScaling(for:)`).
    @Test("a numeric column's mean, standard deviation and largest magnitude, over the recommendable items")
    func numericColumnStatistics() throws {
        let (folder, path) = try Self.write("sku,category,price\nA-1,shoes,9\nB-2,hats,199\nC-3,hats,-31\n")
        defer { folder.remove() }
        var catalogue = try ItemCatalogue.load(path: path, schema: Self.schema)
        let all = try #require(catalogue.numericColumnStatistics.first)
        #expect(catalogue.numericColumnStatistics.count == 1)
        #expect(all.name == "price" && all.column == catalogue.width - 1)
        #expect(abs(all.mean - 59) < 1e-9 && all.maximumMagnitude == 199)
        let squares: Double = 50 * 50 + 140 * 140 + 90 * 90
        #expect(abs(all.standardDeviation - (squares / 3).squareRoot()) < 1e-9)
        try catalogue.retire(id: "B-2")
        let active = try #require(catalogue.numericColumnStatistics.first)
        #expect(active.mean == -11 && active.standardDeviation == 20 && active.maximumMagnitude == 31)
    }
    /// A catalogue numbered 0…n−1 in other spellings (`1.0`, `2e0`): `retire 1` was NOT_FOUND, and `add 1` made a
    /// second item 1 beside `1.0`, after which the catalogue was no longer numbered and a log's item 1 named a row.
    @Test("a numbered catalogue names an item by its number in any spelling, and keeps logs' numbers meaning its items")
    func numberedIdsInAnySpelling() throws {
        let (folder, path) = try Self.write("sku,category,price\n0,shoes,1\n1.0,hats,2\n2e0,socks,3\n")
        defer { folder.remove() }
        var catalogue = try ItemCatalogue.load(path: path, schema: Self.schema)
        #expect(throws: DataError.self) { try catalogue.add(id: "1", fields: ["category": "socks", "price": "1"]) }
        #expect(try catalogue.add(id: "3", fields: ["category": "socks", "price": "1"]) == 3)
        try catalogue.retire(id: "1")
        #expect(catalogue.active == [true, false, true, true])
        // In row order, an id that is no number keeps every row's meaning: row k stays item k.
        #expect(try catalogue.add(id: "sku-x", fields: ["category": "socks", "price": "1"]) == 4)
        // Numbered in another order than its rows, only the next number keeps logs' numbers naming the same items.
        let (other, otherPath) = try Self.write("sku,category,price\n2,shoes,1\n0,hats,2\n1,socks,3\n")
        defer { other.remove() }
        var shuffled = try ItemCatalogue.load(path: otherPath, schema: Self.schema)
        do {
            try shuffled.add(id: "sku-x", fields: ["category": "socks", "price": "1"])
            Issue.record("sku-x was added")
        } catch {
            #expect("\(error)".contains("a new item's id must be 3"), "\(error)")
        }
        #expect(try shuffled.add(id: "3", fields: ["category": "socks", "price": "1"]) == 3)
        #expect(shuffled.rowsOfLoggedItems == [1, 2, 0, 3])
    }
}
