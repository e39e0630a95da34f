/// The arguments of the catalogue CONTROL operations (the request's `catalogue` object). JSON keys:
/// `source_sha256`, `schema`, `item`, `fields`, `replace`.
///
/// | op | uses |
/// |---|---|
/// | `catalogue_upload` | `source_sha256` (an uploaded CSV, `upload` op), `schema` (TOML text with a `[catalogue]` section), `replace` (optional; true lets the new version move or drop the newest version's rows, which is refused by default) |
/// | `catalogue_add` | `item` (the new id), `fields` (column → raw text, as in the catalogue CSV) |
/// | `catalogue_retire` | `item` |
public struct CatalogueArguments: Codable, Sendable, Equatable {
    /// SHA-256 of an uploaded catalogue CSV (`catalogue_upload`).
    public var sourceSha256: String?
    /// The schema's TOML text (`catalogue_upload`).
    public var schema: String?
    /// The item to add or retire.
    public var item: String?
    /// The new item's raw fields (`catalogue_add`).
    public var fields: [String: String]?
    /// Whether an upload may replace the items (`catalogue_upload`): rows of the newest version that move or are
    /// missing are refused (`CONFLICT`) unless this is true, since logs, impressions and warm starts name items by
    /// row. Never allowed while the online policy serves the registry's catalogue.
    public var replace: Bool?

    /// Creates arguments.
    public init(
        sourceSha256: String? = nil, schema: String? = nil, item: String? = nil, fields: [String: String]? = nil,
        replace: Bool? = nil
    ) {
        self.sourceSha256 = sourceSha256
        self.schema = schema
        self.item = item
        self.fields = fields
        self.replace = replace
    }

    /// The keys a `catalogue` object may hold for some operation, snake_case as on the wire.
    public static let keys: Set<String> = ["source_sha256", "schema", "item", "fields", "replace"]

    /// The keys a `catalogue` object may hold for `operation` (the table above); ``keys`` for an operation that takes
    /// no `catalogue` object, which is refused as no argument of it before its keys matter.
    public static func keys(for operation: ControlOperation) -> Set<String> {
        switch operation {
        case .catalogueUpload: ["source_sha256", "schema", "replace"]
        case .catalogueAdd: ["item", "fields"]
        case .catalogueRetire: ["item"]
        default: Self.keys
        }
    }
}

/// A catalogue version as clients see it (`recpool catalogue show --json`). JSON keys: `version`, `parent`,
/// `change` (`upload`, `add`, `retire`), `item`, `sha256`, `source_sha256`, `items`, `active`, `width`,
/// `feature_names`, `created_ms`, `confirmed`, `replicas`.
public struct CatalogueView: Codable, Sendable, Equatable {
    /// The version, from 1.
    public var version: UInt64
    /// The version it was made from (`null` for a first upload).
    public var parent: UInt64?
    /// What changed from the parent.
    public var change: String
    /// The item added or retired (`null` for an upload).
    public var item: String?
    /// SHA-256 of the catalogue's canonical encoding (what workers verify).
    public var sha256: String
    /// SHA-256 of the CSV an upload was read from.
    public var sourceSha256: String?
    /// Items held, retired ones included.
    public var items: Int
    /// Items that may be recommended.
    public var active: Int
    /// Feature columns per item.
    public var width: Int
    /// The encoded columns' names (`category=shoes`, `price`), `null` in a list.
    public var featureNames: [String]?
    /// Milliseconds since the epoch when stored.
    public var createdMs: UInt64
    /// Whether every live worker has confirmed this version (`null` for a version that is not the newest).
    public var confirmed: Bool?
    /// Live workers and the catalogue version each has installed (`null` in a list).
    public var replicas: [CatalogueReplica]?

    /// Creates a view.
    public init(
        version: UInt64, parent: UInt64?, change: String, item: String?, sha256: String, sourceSha256: String?,
        items: Int, active: Int, width: Int, featureNames: [String]?, createdMs: UInt64, confirmed: Bool?,
        replicas: [CatalogueReplica]?
    ) {
        self.version = version
        self.parent = parent
        self.change = change
        self.item = item
        self.sha256 = sha256
        self.sourceSha256 = sourceSha256
        self.items = items
        self.active = active
        self.width = width
        self.featureNames = featureNames
        self.createdMs = createdMs
        self.confirmed = confirmed
        self.replicas = replicas
    }
}

/// A live worker's installed catalogue. JSON keys: `worker`, `version`, `sha256`, `error`.
public struct CatalogueReplica: Codable, Sendable, Equatable {
    /// The worker's display id.
    public var worker: String
    /// The catalogue version it confirmed (`null`: none yet).
    public var version: UInt64?
    /// The SHA-256 it verified.
    public var sha256: String?
    /// Why it did not install a newer version it was sent (the version and the worker's reason), `null` when it
    /// refused none since the version it confirmed.
    public var error: String?

    /// Creates a replica view.
    public init(worker: String, version: UInt64?, sha256: String?, error: String? = nil) {
        self.worker = worker
        self.version = version
        self.sha256 = sha256
        self.error = error
    }
}

/// The reply to `catalogues`. JSON key: `catalogues` (oldest first).
public struct CatalogueList: Codable, Sendable, Equatable {
    /// Every stored version.
    public var catalogues: [CatalogueView]

    /// Creates a list.
    public init(catalogues: [CatalogueView]) { self.catalogues = catalogues }
}

/// One item of a catalogue version (`catalogue` with `limit`). JSON keys: `row`, `id`, `active`.
public struct CatalogueItem: Codable, Sendable, Equatable {
    /// The item's stable row.
    public var row: Int
    /// Its external id (SKU).
    public var id: String
    /// Whether it may be recommended.
    public var active: Bool

    /// Creates an item view.
    public init(row: Int, id: String, active: Bool) {
        self.row = row
        self.id = id
        self.active = active
    }
}

/// The reply to `catalogue`: a version and a page of its items. JSON keys: `catalogue`, `items`, `next_after`.
public struct CatalogueShow: Codable, Sendable, Equatable {
    /// The version.
    public var catalogue: CatalogueView
    /// Items whose row is above the request's `after` (from -1), at most `limit` of them.
    public var items: [CatalogueItem]
    /// The `after` for the next page, `null` on the last.
    public var nextAfter: Int64?

    /// Creates a reply.
    public init(catalogue: CatalogueView, items: [CatalogueItem], nextAfter: Int64?) {
        self.catalogue = catalogue
        self.items = items
        self.nextAfter = nextAfter
    }
}

/// A catalogue version sent to a worker (``Command/catalogue``, frame 1; the canonical bytes are frame 2).
/// JSON keys: `version`, `sha256`.
public struct CatalogueInstall: Codable, Sendable, Equatable {
    /// The version.
    public var version: UInt64
    /// SHA-256 of frame 2: the worker installs the bytes only if they hash to it.
    public var sha256: String

    /// Creates a notice.
    public init(version: UInt64, sha256: String) {
        self.version = version
        self.sha256 = sha256
    }
}

/// A worker's answer to ``CatalogueInstall`` (``Command/catalogueState``, frame 1). JSON keys: `version`,
/// `sha256`, `installed`, `error`.
public struct CatalogueState: Codable, Sendable, Equatable {
    /// The version the notice named.
    public var version: UInt64
    /// The SHA-256 the worker computed over frame 2.
    public var sha256: String
    /// Whether the worker now serves this version's catalogue.
    public var installed: Bool
    /// Why it did not install it (`null` when it did).
    public var error: String?

    /// Creates a state report.
    public init(version: UInt64, sha256: String, installed: Bool, error: String?) {
        self.version = version
        self.sha256 = sha256
        self.installed = installed
        self.error = error
    }
}
