import Foundation
import RecWire

/// The item-context file: each catalogue row's external id and active flag, and the spec's item feature columns
/// in OBD's `item_feature_0` (continuous) and `item_feature_1…` form; ``ImpressionExport`` documents the encoding.
extension ImpressionExport {
    /// The item-context file's text (see the type's documentation for the encoding).
    public static func itemContextCSV(spec: OnlinePolicySpec) -> String {
        let columns = itemColumns(spec.itemFeatures)
        let continuous = columns.firstIndex { if case .continuous = $0.kind { true } else { false } }
        let categorical = columns.indices.filter { $0 != continuous }
        let header =
            ["", "item_id", "item_sku", "active", "item_feature_0"]
            + categorical.indices.map { "item_feature_\($0 + 1)" }
        var lines = [header.joined(separator: ",")]
        for item in spec.itemFeatures.indices {
            let row = spec.itemFeatures[item]
            let first = continuous.map { "\(row[columns[$0].first])" } ?? "0.0"
            let labels = categorical.map { columns[$0].label(item: item, features: spec.itemFeatures) }
            let sku = csvField(item < spec.itemIds.count ? spec.itemIds[item] : "\(item)")
            let active = item < spec.itemActive.count && !spec.itemActive[item] ? "0" : "1"
            lines.append((["\(item)", "\(item)", sku, active, first] + labels).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A group of the spec's item feature columns that becomes one exported column.
    struct ItemColumn {
        enum Kind {
            /// A one-hot block of `width` columns.
            case oneHot(width: Int)
            /// A single 0/1 column that is not part of a block.
            case binary
            /// A continuous column.
            case continuous
        }

        /// The spec column it starts at.
        var first: Int
        var kind: Kind

        /// The field of `item` in this column: its category, or a continuous column's value verbatim.
        func label(item: Int, features: ItemFeatureRows) -> String {
            let row = features[item]
            switch kind {
            case .oneHot(let width):
                // An item with no hot column (a categorical value the catalogue's vocabulary lacks) is `none`.
                guard let hot = (0..<width).first(where: { row[first + $0] == 1 }) else { return "none" }
                return "v" + padded(hot, width: width)
            case .binary:
                return row[first] == 1 ? "1" : "0"
            case .continuous:
                // Verbatim, as `item_feature_0`: the schema reads it as a numeric column, one input whatever the
                // number of items (a rank per item made a category per item, so the width grew with the catalogue).
                return "\(row[first])"
            }
        }

        private func padded(_ value: Int, width: Int) -> String {
            let digits = String(max(width - 1, 0)).count
            let text = String(value)
            return String(repeating: "0", count: max(0, digits - text.count)) + text
        }
    }

    /// Splits the spec's columns into one-hot blocks, lone 0/1 columns and continuous columns.
    static func itemColumns(_ features: ItemFeatureRows) -> [ItemColumn] {
        let width = features.first?.count ?? 0
        func isBinary(_ c: Int) -> Bool { features.allSatisfy { $0[c] == 0 || $0[c] == 1 } }
        var columns: [ItemColumn] = []
        var c = 0
        while c < width {
            guard isBinary(c) else {
                columns.append(ItemColumn(first: c, kind: .continuous))
                c += 1
                continue
            }
            var end = c
            while end < width && isBinary(end) { end += 1 }
            // The longest prefix of the binary run in which every item has at most one 1 is a one-hot block (an
            // item added with a value outside a categorical feature's vocabulary has none).
            var block = 0
            for stop in stride(from: end, to: c + 1, by: -1)
            where features.allSatisfy({ row in row[c..<stop].reduce(0, +) <= 1 }) {
                block = stop - c
                break
            }
            if block >= 2 {
                columns.append(ItemColumn(first: c, kind: .oneHot(width: block)))
                c += block
            } else {
                columns.append(ItemColumn(first: c, kind: .binary))
                c += 1
            }
        }
        return columns
    }
}
