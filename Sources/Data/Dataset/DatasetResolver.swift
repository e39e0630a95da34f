import Foundation

/// The one meaning of `--dataset` in every command (`fit`, `train`, `eval`, `data describe|features|ope|schema`,
/// `loadtest`): a name or a file resolves here, once, to its kind and, for logged impressions, to the same
/// ``SplitDataset`` by time.
///
/// - `obd:POLICY/CAMPAIGN` and `synthetic:…` are built-in logs;
/// - a CSV with a schema (`--schema shop.toml`) is a shop's impression log, its catalogue named by the schema;
/// - a CSV without a schema is detected by ``detect(header:path:)``: OBD's layout (with `item_context.csv` beside
///   it), or numeric columns with a `label` column (a feature matrix for `fit` and `train`); anything else is an
///   error that says to pass `--schema`.
public struct DatasetResolver: Sendable {
    /// What a dataset argument turned out to be.
    public enum Kind: String, Sendable, Equatable, Codable {
        /// A file of the Open Bandit Dataset sample (`obd:`).
        case openBanditDataset = "built-in OBD sample"
        /// Simulated logs (`synthetic:`).
        case synthetic = "built-in simulated logs"
        /// A shop's impression log read with a declared schema.
        case shopLogs = "impression log with a schema"
        /// A CSV detected as impressions in OBD's layout (the built-in OBD schema).
        case openBanditLayout = "impression log in the Open Bandit Dataset's layout (detected)"
        /// A CSV detected as numeric features with a `label` column.
        case featureMatrix = "numeric feature matrix with a label column (detected)"
    }

    /// The files behind a logged dataset read from disk, as a trainer uploads them.
    public struct LogFiles: Sendable, Equatable {
        /// The impression log.
        public var log: String
        /// The catalogue.
        public var catalogue: String
        /// The schema's TOML text (the built-in OBD schema's own text for a detected OBD-layout file).
        public var schemaText: String
    }

    /// A resolved dataset argument.
    public enum Resolved: Sendable {
        /// Logged impressions, split by time; `files` when they came from local files.
        case logs(SplitDataset, kind: Kind, files: LogFiles?)
        /// A numeric feature matrix file (header, numeric features, `label`), read by `NumericCSV`.
        case matrix(path: String)

        /// The kind.
        public var kind: Kind {
            switch self {
            case .logs(_, let kind, _): return kind
            case .matrix: return .featureMatrix
            }
        }
    }

    /// Where `obd:` names are read from.
    public var obdDirectory: String
    /// The split by time.
    public var split: DatasetSplit

    /// Creates a resolver.
    public init(obdDirectory: String, split: DatasetSplit = .standard) {
        self.obdDirectory = obdDirectory
        self.split = split
    }

    /// Resolves a dataset argument.
    /// - Parameters:
    ///   - name: `obd:…`, `synthetic:…` or a file path.
    ///   - schemaPath: A schema file, for a shop's CSV log.
    /// - Throws: `DataError.invalidSpecification` for a name that does not parse, a schema given with a built-in
    ///   name, or a CSV whose kind cannot be told; `DataError.schema` and `DataError.file` from the files.
    public func resolve(_ name: String, schemaPath: String? = nil) throws(DataError) -> Resolved {
        if name.hasPrefix("obd:") || name.hasPrefix("synthetic:") || name == "synthetic" {
            if schemaPath != nil {
                throw .invalidSpecification("--schema is for a shop's CSV log, not the built-in dataset '\(name)'")
            }
            let specifier = try DatasetSpecifier(parsing: name)
            let kind: Kind = name.hasPrefix("obd:") ? .openBanditDataset : .synthetic
            return .logs(
                SplitDataset(try specifier.load(obdDirectory: obdDirectory), split: split), kind: kind, files: nil)
        }
        // A missing file is the reader's own error (it names the path); a bare word is a misspelt name.
        if !FileManager.default.fileExists(atPath: name) && !name.contains("/") && !name.contains(".") {
            throw .invalidSpecification(
                "'\(name)': expected obd:POLICY/CAMPAIGN, synthetic:KEY=VALUE,… or a CSV file")
        }
        if let schemaPath {
            let text = try DataSchema.readText(schemaPath)
            let schema = try DataSchema.parse(text, path: schemaPath)
            let catalogue = Self.catalogueFile(schema, schemaPath: schemaPath)
            let data = try LogLoader.load(logFile: name, catalogueFile: catalogue, schema: schema, name: name)
            return .logs(
                SplitDataset(data, split: split), kind: .shopLogs,
                files: LogFiles(log: name, catalogue: catalogue, schemaText: text))
        }
        let table = try CSVTable.read(path: name)
        switch try Self.detect(header: table.header, path: name) {
        case .featureMatrix:
            return .matrix(path: name)
        default:
            let catalogue = URL(fileURLWithPath: name).deletingLastPathComponent().appendingPathComponent(
                "item_context.csv"
            ).path
            guard FileManager.default.fileExists(atPath: catalogue) else {
                throw .invalidSpecification(
                    "\(name) is read as logged impressions in the Open Bandit Dataset's layout (timestamp, item_id, "
                        + "position, click, propensity_score, user_feature_*), which needs the item catalogue "
                        + "item_context.csv beside it, and there is none at \(catalogue); pass --schema for another "
                        + "layout (`recpool data schema --infer \(name) --catalogue FILE` drafts one; "
                        + "docs/YOUR-DATA.md)"
                )
            }
            let items = try CSVTable.read(path: catalogue)
            let schema = try OBDLoader.schema(log: table, catalogue: items)
            let data = try LogLoader.build(log: table, catalogue: items, schema: schema, name: name)
            return .logs(
                SplitDataset(data, split: split), kind: .openBanditLayout,
                files: LogFiles(log: name, catalogue: catalogue, schemaText: schema.toml()))
        }
    }

    /// Resolves a dataset argument that must be logged impressions (`eval`, `data describe|features|ope`).
    /// - Throws: as ``resolve(_:schemaPath:)``, and `DataError.invalidSpecification` for a feature matrix.
    public func logs(_ name: String, schemaPath: String? = nil) throws(DataError) -> (SplitDataset, Kind) {
        switch try resolve(name, schemaPath: schemaPath) {
        case .logs(let data, let kind, _): return (data, kind)
        case .matrix:
            throw .invalidSpecification(
                "\(name) is a numeric feature matrix with a label column, not logged impressions; this command needs "
                    + "impressions (obd:…, synthetic:…, or a log with --schema)")
        }
    }

    /// Builds a shop's logs from uploaded bytes and schema text, as a worker does.
    /// - Throws: `DataError`.
    public func logs(logBytes: [UInt8], catalogueBytes: [UInt8], schemaText: String, name: String) throws(DataError)
        -> SplitDataset
    {
        let schema = try DataSchema.parse(schemaText, path: "the job's schema")
        let log = try CSVTable.parse(logBytes, path: name)
        let catalogue = try CSVTable.parse(catalogueBytes, path: schema.catalogue.file)
        return SplitDataset(
            try LogLoader.build(log: log, catalogue: catalogue, schema: schema, name: name), split: split)
    }

    /// The one detection of a schema-less CSV's kind from its header.
    /// - Throws: `DataError.invalidSpecification` when the header fits neither kind, or both.
    public static func detect(header: [String], path: String) throws(DataError) -> Kind {
        let obd = DataSchema.looksLikeOpenBanditDataset(header)
        let matrix = header.contains("label")
        if obd && !matrix && DataSchema.looksLikeOpenBanditDataset(header, exactly: true) { return .openBanditLayout }
        if matrix && !obd { return .featureMatrix }
        let why =
            obd && matrix
            ? "both OBD's layout and a label column"
            : obd ? "OBD's roles, but columns outside its layout" : "neither OBD's layout nor a label column"
        throw .invalidSpecification(
            "cannot tell what \(path) holds (\(why)): pass --schema FILE for an impression log "
                + "(`recpool data schema --infer \(path)` drafts one)")
    }

    /// The catalogue file a schema names, relative to the schema file's folder unless absolute.
    public static func catalogueFile(_ schema: DataSchema, schemaPath: String) -> String {
        if schema.catalogue.file.hasPrefix("/") { return schema.catalogue.file }
        return URL(fileURLWithPath: schemaPath).deletingLastPathComponent().appendingPathComponent(
            schema.catalogue.file
        ).path
    }
}
