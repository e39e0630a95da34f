import Foundation
import TOMLKit

/// The roles of a shop's columns: which column of the impression log is the timestamp, the item, the slot, the
/// click, the propensity and each user feature, and which column of the catalogue is the item id and each item
/// feature. Read from a small TOML file (docs/YOUR-DATA.md):
///
/// ```toml
/// [logs]
/// timestamp = "timestamp"
/// item = "item_id"
/// position = "position"
/// click = "click"                 # or reward = "revenue"
/// propensity = "propensity_score"
/// ignore = ["row"]
/// [logs.user_features]
/// device = "categorical"
/// age = "numeric"
/// [catalogue]
/// file = "item_context.csv"       # relative to the schema file
/// item = "item_id"
/// [catalogue.item_features]
/// price = "numeric"
/// ```
///
/// Every column of each file must be named by a role or listed in `ignore`; `LogLoader` names any column that is
/// neither, and any role whose column is missing.
public struct DataSchema: Sendable, Equatable {
    /// How a feature column is encoded.
    public enum FeatureKind: String, Sendable, Equatable, CaseIterable {
        /// One-hot over the training vocabulary, plus an unknown bucket.
        case categorical
        /// z-scored with the training mean and standard deviation.
        case numeric
    }

    /// A feature column and its kind, and for a categorical user feature optionally its known values.
    ///
    /// The online policy over a shop's catalogue (`recpool-broker --online-catalogue`) reads user features from the
    /// request, with no training split to fit a vocabulary on. A categorical user feature may declare `values`: each
    /// known value is a column of its own in the policy's context, and every other value shares one more column.
    /// Without them, values are hashed into 8 columns, where two values can share one and the policy cannot tell
    /// those users apart. `recpool data schema --infer` drafts them from the log (the most frequent values).
    /// `recpool fit` and `train` ignore them and fit their own vocabulary on the training split (``FeatureSpec``).
    /// A numeric user feature may declare `mean` and `scale`: the online policy over the catalogue reads it as
    /// `(x − mean) / scale`, clipped to ±10 (without them as it is: an age in years reads as 10 for every adult).
    /// `data schema --infer` drafts them from the log; `fit` and `train` standardise from the training split.
    public struct Feature: Sendable, Equatable {
        /// The column name.
        public var name: String
        /// How it is encoded.
        public var kind: FeatureKind
        /// A categorical user feature's known values, in column order (nil: hashed).
        public var values: [String]?
        /// A numeric user feature's declared centre, in its own units (nil: 0).
        public var mean: Double?
        /// A numeric user feature's declared scale, in its own units, > 0 (nil: 1).
        public var scale: Double?

        /// The most `values` a feature may declare: each is a column of the policy's context, whose interaction
        /// features grow with their product with the item columns (``SchemaInference`` drafts fewer).
        public static let maximumValues = 64

        /// Creates a feature.
        public init(_ name: String, _ kind: FeatureKind, values: [String]? = nil, mean: Double? = nil, scale: Double? = nil) {
            self.name = name
            self.kind = kind
            self.values = values
            self.mean = mean
            self.scale = scale
        }
    }

    /// The impression log's columns.
    public struct Logs: Sendable, Equatable {
        /// When the impression happened: numbers, or ISO 8601 date-times (ordered as the instants they name).
        public var timestamp: String
        /// The shown item's id (an integer id of the catalogue).
        public var item: String
        /// The slot it was shown in (any integers; their dense rank is the 0-based position).
        public var position: String
        /// The outcome column: a 0/1 click, or (with `isReward`) a non-negative reward, positive meaning engaged.
        public var outcome: String
        /// Whether `outcome` was given as `reward` rather than `click`.
        public var isReward: Bool
        /// The logging policy's probability of the shown item, in (0, 1].
        public var propensity: String
        /// Seconds the user spent on the item (optional; a blank field is a dwell that was not reported).
        public var dwell: String?
        /// Whether the row's outcome was observed (optional): a 0/1 column, 0 for an item that was shown but whose
        /// feedback never arrived. Such a row is left out of the dataset (its outcome is unknown, not a non-click),
        /// and its outcome field may be blank. `recpool logs export` writes this column.
        public var observed: String?
        /// Whether the slate was drawn from a candidate set rather than from every item (optional): blank when it was
        /// not, else the set's origin (`request` for a RECOMMEND's own `candidates`, the item index version for
        /// retrieval's). Such a row's propensity is conditional on a set the log does not hold, so no other policy
        /// can be evaluated on it: off-policy evaluation leaves it out (``BanditDataset/conditional``), while training
        /// uses its click as any row's. `recpool logs export` writes this column.
        public var retrieval: String?
        /// A session id (optional; recorded, not used by the model).
        public var session: String?
        /// A user id (optional): without `affinityPrefix`, a user's earlier clicks become their history.
        public var user: String?
        /// The prefix of per-item history columns `PREFIX0`, `PREFIX1`, … (OBD's `user-item_affinity_`), optional.
        public var affinityPrefix: String?
        /// A column of the items the user had viewed before the row, `item:seconds` pairs joined by `;` (blank for
        /// none), optional: the same history as `affinityPrefix` in one column whatever the catalogue's size. A view
        /// of at least the engagement dwell (10 s) counts `min(seconds / 10, 3)` engagements with its item, as
        /// `recommend --events` counts them. Not together with `affinityPrefix`. `recpool logs export` writes it.
        public var viewed: String?
        /// User features, in the log's column order once a header is seen.
        public var userFeatures: [Feature]
        /// Columns deliberately not used.
        public var ignore: [String]

        /// Creates the log roles.
        public init(
            timestamp: String, item: String, position: String, outcome: String, isReward: Bool = false,
            propensity: String, dwell: String? = nil, observed: String? = nil, retrieval: String? = nil,
            session: String? = nil,
            user: String? = nil, affinityPrefix: String? = nil, viewed: String? = nil, userFeatures: [Feature],
            ignore: [String] = []
        ) {
            self.viewed = viewed
            self.observed = observed
            self.retrieval = retrieval
            self.timestamp = timestamp
            self.item = item
            self.position = position
            self.outcome = outcome
            self.isReward = isReward
            self.propensity = propensity
            self.dwell = dwell
            self.session = session
            self.user = user
            self.affinityPrefix = affinityPrefix
            self.userFeatures = userFeatures
            self.ignore = ignore
        }

        /// The single columns each role names, as (role, column) pairs.
        public var roles: [(role: String, column: String)] {
            var out = [
                ("timestamp", timestamp), ("item", item), ("position", position),
                (isReward ? "reward" : "click", outcome), ("propensity", propensity),
            ]
            for (role, column) in [
                ("dwell", dwell), ("observed", observed), ("retrieval", retrieval), ("session", session), ("user", user),
                ("viewed", viewed),
            ] {
                if let column { out.append((role, column)) }
            }
            return out
        }
    }

    /// The item catalogue's columns.
    public struct Catalogue: Sendable, Equatable {
        /// The catalogue CSV, relative to the schema file (or absolute).
        public var file: String
        /// The item id column: integers `0..<n`, each once.
        public var item: String
        /// The item's external id (a shop's SKU), optional: with it, a catalogue uploaded to the pool names each
        /// item by this column (what `recommend` answers, `retire` and `add` take), its rows in the order of the
        /// `item` column's numbers (the numbers logs name items by); without it the `item` column is the id too.
        public var sku: String?
        /// Whether the item may be recommended, optional: `1` (or `true`) or `0` (`false`: retired, kept for the
        /// logs that name it). Without it every item is active.
        public var active: String?
        /// Item features.
        public var itemFeatures: [Feature]
        /// Columns deliberately not used.
        public var ignore: [String]

        /// Creates the catalogue roles.
        public init(
            file: String, item: String, sku: String? = nil, active: String? = nil, itemFeatures: [Feature],
            ignore: [String] = []
        ) {
            self.file = file
            self.item = item
            self.sku = sku
            self.active = active
            self.itemFeatures = itemFeatures
            self.ignore = ignore
        }

        /// The columns with a role, item first: `item`, then `sku` and `active` when given, then the features.
        public var roleColumns: [String] { [item] + [sku, active].compactMap { $0 } + itemFeatures.map(\.name) }
    }

    /// The log's roles.
    public var logs: Logs
    /// The catalogue's roles.
    public var catalogue: Catalogue

    /// Creates a schema.
    public init(logs: Logs, catalogue: Catalogue) {
        self.logs = logs
        self.catalogue = catalogue
    }
}
