/// Standardisation of an online policy's item columns, fixed for a policy lineage: column `j` of an item row enters
/// the model as `(x_j − mean[j]) / scale[j]`. JSON keys: `mean`, `scale` (one number per item column).
///
/// The broker fixes it when it builds a policy over a shop's catalogue (`OnlinePolicySpec.make` in RecPolicy): a
/// numeric column that reaches beyond ±``unitScaleBound`` (a price in euros, a stock count) is centred on its mean
/// over the catalogue and divided by its standard deviation; every other column (categorical one-hots, numeric
/// columns already near unit scale) keeps mean 0 and scale 1. Read raw, such a column makes the logistic model's
/// logits, and so every score, saturate at 0 or 1. The scaling then travels with the spec (POLICY messages, stored
/// policy versions) and does not change when the catalogue gains or retires items, so the learnt coefficients keep
/// their meaning; a spec without one reads the rows as they are.
public struct ItemScaling: Codable, Sendable, Equatable {
    /// Subtracted from each column, one per item column.
    public var mean: [Double]
    /// Each column is divided by this after subtracting `mean`; finite and above 0.
    public var scale: [Double]

    /// Creates a scaling; `mean` and `scale` must have one value per item column (``problem(itemWidth:)``).
    public init(mean: [Double], scale: [Double]) {
        self.mean = mean
        self.scale = scale
    }

    /// The largest magnitude a numeric item column may reach and still be read as it is (10).
    public static let unitScaleBound = 10.0

    /// The largest magnitude an item column has as the model reads it (after the scaling, if any): a value beyond is
    /// clipped to ±10 (winsorised). An item added later far outside the range its lineage was scaled on (a price of
    /// 50,000 where the catalogue's were 5–2,000, z ≈ 94; or 10³⁰) made its logits, and through the shared
    /// coefficients every score, saturate at exactly 0 or 1, and could make the posterior unsolvable.
    public static let modelValueBound = 10.0

    /// Why this scaling cannot apply to rows of `itemWidth` columns, or `nil` when it can.
    public func problem(itemWidth: Int) -> String? {
        guard mean.count == itemWidth, scale.count == itemWidth else {
            return "item_scaling has \(mean.count) means and \(scale.count) scales for \(itemWidth) item columns"
        }
        if let j = mean.indices.first(where: { !mean[$0].isFinite || !scale[$0].isFinite || !(scale[$0] > 0) }) {
            return "item_scaling column \(j): mean must be finite and scale finite and above 0"
        }
        return nil
    }

    /// Whether every column keeps mean 0 and scale 1 (reading rows as they are).
    public var isIdentity: Bool { mean.allSatisfy { $0 == 0 } && scale.allSatisfy { $0 == 1 } }
}
