import Foundation
import RecModel

/// The catalogue: items `0..<count` and their label-coded and numeric features. When the catalogue's ids are the
/// integers `0..<count` an item is its id's number; otherwise an item is its row in the file (``ItemIds/named(_:count:)``).
struct ItemTable {
    var count: Int
    /// How logs name the items.
    var ids: ItemIds
    /// Each item's id as the catalogue writes it, in item order.
    var idTexts: [String]
    /// Each item's id as a served catalogue of the same file names it (its SKU with a `sku` role), in item order.
    var servedIds: [String]
    var actionContext: FeatureMatrix
    var numericColumns: Int

    init(_ table: CSVTable, schema: DataSchema.Catalogue) throws(DataError) {
        let features = schema.itemFeatures.sorted {
            (table.header.firstIndex(of: $0.name) ?? 0) < (table.header.firstIndex(of: $1.name) ?? 0)
        }
        try LogLoader.checkColumns(
            table, named: [schema.item] + [schema.sku, schema.active].compactMap { $0 } + features.map(\.name),
            prefix: nil, ignore: schema.ignore, section: "catalogue")
        // Unused here, but a file whose SKUs or active flags the upload refuses is refused here too.
        try ItemCatalogue.checkRoleColumns(table, schema: schema)
        guard !table.rows.isEmpty else { throw .inconsistent("\(table.path): no items") }
        let idColumn = try table.column(schema.item)
        var firstRow: [String: Int] = [:]
        let texts = table.rows.indices.map { table.rows[$0][idColumn].trimmingCharacters(in: .whitespaces) }
        for (row, text) in texts.enumerated() {
            guard !text.isEmpty else {
                throw table.invalid(row: row, column: idColumn, reason: "is blank: every item needs an id")
            }
            // The upload's rule for an id (the `item` column is the id unless a `sku` column is): a file it refuses
            // is not evaluated or trained on here, only to be refused when the shop serves it.
            if schema.sku == nil, let problem = ItemCatalogue.idProblem(text) {
                throw table.invalid(row: row, column: idColumn, reason: problem)
            }
            if let first = firstRow.updateValue(row, forKey: text) {
                throw table.invalid(
                    row: row, column: idColumn,
                    reason: ItemIds.repeated(
                        text, first: table.rows[first][idColumn].trimmingCharacters(in: .whitespaces),
                        line: table.lines[first]))
            }
        }
        // The integers 0..n−1, in any order: an item is its number (OBD). Anything else: an item is its row.
        let rowOfItem: [Int]
        if let order = ItemIds.numberedRows(texts) {
            rowOfItem = order
            ids = .numbered(count: texts.count)
        } else {
            rowOfItem = Array(texts.indices)
            ids = .named(Dictionary(uniqueKeysWithValues: texts.enumerated().map { ($1, $0) }), count: texts.count)
        }
        idTexts = rowOfItem.map { texts[$0] }
        // The id a served catalogue names each item by: its SKU with a `sku` role (``ItemCatalogue/make(_:schema:)``).
        if let sku = schema.sku {
            let column = try table.column(sku)
            servedIds = rowOfItem.map { table.rows[$0][column].trimmingCharacters(in: .whitespaces) }
        } else {
            servedIds = idTexts
        }
        var categorical: [Int] = []
        var numeric: [Int] = []
        for feature in features {
            let column = try table.column(feature.name)
            if feature.kind == .categorical { categorical.append(column) } else { numeric.append(column) }
        }
        let codes = CategoricalColumns(
            names: categorical.map { table.header[$0] },
            rows: rowOfItem.map { r in categorical.map { BlankText.canonical(table.rows[r][$0]) } })
        var values: [Float] = []
        for item in rowOfItem.indices {
            for column in categorical.indices { values.append(Float(codes.codes[item * categorical.count + column])) }
            for column in numeric { values.append(try table.float(row: rowOfItem[item], column: column)) }
        }
        count = rowOfItem.count
        numericColumns = numeric.count
        actionContext = FeatureMatrix(
            rows: count, columnNames: codes.names + numeric.map { table.header[$0] }, values: values)
    }
}
