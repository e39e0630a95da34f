import Testing

@testable import RecData

/// `data schema --infer` on what `recpool logs export` writes: its history, its own bookkeeping columns and its item
/// context's SKU and retired flag were drafted as features (`viewed` as a category of `item:seconds` texts, `active`
/// as an item input).
@Suite("A drafted schema of a logs export")
struct ExportInferenceTests {
    @Test("the export's viewed column, bookkeeping columns, SKU and active flag get their roles, not features")
    func exportColumnsRecognised() throws {
        let log = """
            ,timestamp,item_id,position,click,observed,dwell,propensity_score,impression_id,policy_version,viewed,score,retrieval,device
            0,1000,0,1,1,1,12.5,0.3,i-0,1,,0.2,e1.c2.g0,ios
            1,1001,1,2,0,1,,0.3,i-1,1,0:12.5,0.1,e1.c2.g0,web
            2,1002,2,3,0,0,,0.4,i-2,2,0:12.5;1:3,0.05,e1.c2.g0,ios

            """
        let items = """
            ,item_id,item_sku,active,item_feature_0
            0,0,sku-a,1,0.5
            1,1,sku-b,0,1.5
            2,2,sku-c,1,2.5

            """
        let draft = SchemaInference.infer(
            log: try CSVTable.parse(Array(log.utf8), path: "impressions.csv"),
            catalogue: try CSVTable.parse(Array(items.utf8), path: "item_context.csv"), catalogueFile: "item_context.csv")
        let schema = draft.schema
        #expect(draft.unrecognised.isEmpty, "\(draft.unrecognised)")
        #expect(schema.logs.viewed == "viewed" && schema.logs.dwell == "dwell" && schema.logs.observed == "observed")
        #expect(schema.logs.userFeatures.map(\.name) == ["device"])
        #expect(Set(schema.logs.ignore).isSuperset(of: ["impression_id", "policy_version", "score"]))
        #expect(schema.logs.retrieval == "retrieval" && !schema.logs.ignore.contains("retrieval"))
        #expect(schema.catalogue.sku == "item_sku" && schema.catalogue.active == "active")
        #expect(schema.catalogue.itemFeatures.map(\.name) == ["item_feature_0"])
        // The draft reads back with the same roles.
        let back = try DataSchema.parse(schema.toml(), path: "inferred.toml")
        #expect(back.logs.viewed == "viewed" && back.catalogue.sku == "item_sku" && back.catalogue.active == "active")
    }

    /// A catalogue whose only id column is `item_sku` had a placeholder drafted for its item id, the SKU role naming
    /// ids of no item.
    @Test("a catalogue whose only id column is item_sku (ids each once) takes it as the item id")
    func itemSkuAloneIsTheItemId() throws {
        let log = "timestamp,item_id,position,click,propensity_score,device\n1000,sku-a,1,1,0.5,ios\n1001,sku-b,1,0,0.5,web\n"
        let items = "item_sku,price\nsku-a,1.5\nsku-b,2.5\n"
        let draft = SchemaInference.infer(
            log: try CSVTable.parse(Array(log.utf8), path: "logs.csv"),
            catalogue: try CSVTable.parse(Array(items.utf8), path: "items.csv"), catalogueFile: "items.csv")
        #expect(draft.schema.catalogue.item == "item_sku" && draft.schema.catalogue.sku == nil)
        #expect(draft.schema.catalogue.itemFeatures.map(\.name) == ["price"])
        #expect(!draft.schema.toml().contains(SchemaInference.placeholderPrefix))
        // Repeated values are no ids: the placeholder stays, naming what to write.
        let repeated = "item_sku,price\nsku-a,1.5\nsku-a,2.5\n"
        let second = SchemaInference.infer(
            log: try CSVTable.parse(Array(log.utf8), path: "logs.csv"),
            catalogue: try CSVTable.parse(Array(repeated.utf8), path: "items.csv"), catalogueFile: "items.csv")
        #expect(second.schema.catalogue.item.hasPrefix(SchemaInference.placeholderPrefix))
    }

    /// Taken by name alone, a shop's own `viewed` 0/1 column, `score` feature, `active` of yes/no and repeated
    /// `item_sku` became roles the loader then refused (or were dropped).
    @Test("a shop's own columns of those names that do not hold what the roles read stay features")
    func shopColumnsOfThoseNamesStayFeatures() throws {
        let log = """
            timestamp,item_id,position,click,propensity_score,viewed,score,device
            1000,0,1,1,0.3,1,0.5,ios
            1001,1,2,0,0.3,0,0.7,web

            """
        let items = """
            item_id,item_sku,active,price
            0,sku-a,yes,0.5
            1,sku-a,no,1.5

            """
        let draft = SchemaInference.infer(
            log: try CSVTable.parse(Array(log.utf8), path: "logs.csv"),
            catalogue: try CSVTable.parse(Array(items.utf8), path: "items.csv"), catalogueFile: "items.csv")
        #expect(draft.schema.logs.viewed == nil)
        #expect(Set(draft.schema.logs.userFeatures.map(\.name)) == ["viewed", "score", "device"])
        #expect(draft.schema.catalogue.sku == nil && draft.schema.catalogue.active == nil)
        #expect(Set(draft.schema.catalogue.itemFeatures.map(\.name)) == ["item_sku", "active", "price"])
    }
}

/// A shop's column names as spreadsheets write them: `Item ID` was not recognised as the id column.
@Suite("A drafted schema recognises role names written with spaces, hyphens or capitals")
struct RoleNameSpellingTests {
    @Test("Item ID, Click, Propensity-Score and Time are the roles item, click, propensity and timestamp")
    func spelledRoles() throws {
        let log = "Time,Item ID,Position,Click,Propensity-Score,Device\n1000,0,1,1,0.5,ios\n1001,1,1,0,0.5,web\n"
        let items = "Item ID,Price\n0,1.5\n1,2.5\n"
        let draft = SchemaInference.infer(
            log: try CSVTable.parse(Array(log.utf8), path: "logs.csv"),
            catalogue: try CSVTable.parse(Array(items.utf8), path: "items.csv"), catalogueFile: "items.csv")
        #expect(draft.unrecognised.isEmpty, "\(draft.unrecognised)")
        let logs = draft.schema.logs
        #expect(logs.timestamp == "Time" && logs.item == "Item ID" && logs.outcome == "Click")
        #expect(logs.propensity == "Propensity-Score" && logs.position == "Position")
        #expect(draft.schema.catalogue.item == "Item ID")
        #expect(logs.userFeatures.map(\.name) == ["Device"])
        #expect(SchemaInference.roleKey(" Item-ID ") == "item_id")
    }

    /// A reviewer's case: with a catalogue id `c;d`, the column was drafted as a categorical feature, while the loader
    /// reads `a:5;c;d:12` as two views.
    @Test("a viewed column whose pairs name an id holding ';' is drafted as viewed pairs; a column of words is not")
    func viewedIdsWithSemicolons() throws {
        func table(_ cells: [String]) throws -> CSVTable {
            try CSVTable.parse(Array(("viewed\n" + cells.joined(separator: "\n") + "\n").utf8), path: "log.csv")
        }
        #expect(try SchemaInference.holdsViewedPairs("viewed", in: table(["a:5;c;d:12", "", "c;d:3", "b:1"])))
        #expect(try !SchemaInference.holdsViewedPairs("viewed", in: table(["a:5;c", "b:1"])))
        #expect(try !SchemaInference.holdsViewedPairs("viewed", in: table(["red", "blue"])))
        #expect(try !SchemaInference.holdsViewedPairs("viewed", in: table(["color:red;size:10"])))
    }
}
