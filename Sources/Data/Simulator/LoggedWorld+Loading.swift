import Foundation

extension LoggedWorld {
    /// Loads a world from logs named as `--dataset` names them: `obd:POLICY/CAMPAIGN` (the click model fitted on
    /// that file, the catalogue its `item_context.csv`, the logging policy OBD's `bts` file of the campaign when it is
    /// there), or a
    /// shop's log CSV with its schema (the catalogue the schema's, the logging policy the log itself).
    /// - Parameters:
    ///   - name: `obd:…` or a CSV path.
    ///   - schemaPath: the schema for a shop's CSV (nil for OBD's layout).
    ///   - obdDirectory: where `obd:` files live.
    ///   - clickScale: the factor on every click's odds.
    /// - Throws: ``DataError`` from the files, or for a name that is not logs (`synthetic:` has its own world) or
    ///   a `schemaPath` given with `obd:` (`invalidSpecification`).
    public static func load(name: String, schemaPath: String?, obdDirectory: String, clickScale: Double)
        throws(DataError) -> LoggedWorld
    {
        let resolver = DatasetResolver(obdDirectory: obdDirectory)
        if name.hasPrefix("obd:") {
            guard schemaPath == nil else {
                throw .invalidSpecification("--world-schema is for a shop's CSV log, not the built-in '\(name)' (OBD's own schema)")
            }
            guard let source = OBDSource(String(name.dropFirst(4))) else {
                throw .invalidSpecification("'\(name)': expected obd:{random,bts}/{all,men,women}")
            }
            let logs = try OBDLoader.load(source, obdDirectory: obdDirectory)
            let itemsPath = URL(fileURLWithPath: source.dataFile(in: obdDirectory)).deletingLastPathComponent()
                .appendingPathComponent("item_context.csv").path
            let catalogue = try ItemCatalogue.load(
                path: itemsPath, schema: DataSchema.openBanditDataset(catalogueHeader: try CSVTable.read(path: itemsPath).header).catalogue)
            let bts = OBDSource(.bts, source.campaign)
            let hasBTS = FileManager.default.fileExists(atPath: bts.dataFile(in: obdDirectory))
            let logging = hasBTS ? ("obd:\(bts)", try OBDLoader.load(bts, obdDirectory: obdDirectory)) : nil
            return try LoggedWorld(
                name: name, logs: logs, catalogue: catalogue, logging: logging, clickScale: clickScale)
        }
        guard !name.hasPrefix("synthetic") else {
            throw .invalidSpecification("'\(name)': the simulator world is the default; --world takes logs (obd:… or a CSV)")
        }
        let resolved: DatasetResolver.Resolved
        do {
            resolved = try resolver.resolve(name, schemaPath: schemaPath)
        } catch {
            // The resolver speaks the data commands' flag; `recpool simulate` names the schema with --world-schema.
            if case .invalidSpecification(let text) = error {
                throw .invalidSpecification(text.replacingOccurrences(of: "--schema FILE", with: "--world-schema FILE"))
            }
            throw error
        }
        guard case .logs(let split, _, let files?) = resolved else {
            throw .invalidSpecification("\(name) is not logged impressions: a world needs a log and its catalogue")
        }
        let schema = try DataSchema.parse(files.schemaText, path: schemaPath ?? name)
        let catalogue = try ItemCatalogue.load(path: files.catalogue, schema: schema.catalogue)
        return try LoggedWorld(
            name: name, logs: split.all, catalogue: catalogue, logging: (name, split.all), clickScale: clickScale)
    }
}

/// Defaults of a ``LoggedWorld`` as `recpool simulate --world` builds one.
public enum LoggedWorldDefaults {
    /// The factor on every click's odds: OBD's 0.3–0.5% click rate per shown item becomes about 3–5%, so a
    /// learner separates items within a few thousand visitors instead of a few hundred thousand.
    public static let clickScale = 10.0
}
