import Foundation
import RecModel

/// Where a dataset comes from, parsed from a command-line string:
/// - `obd:random/all` (any of `{random,bts}/{all,men,women}`), read from an `obd` data directory;
/// - `synthetic:users=100000,seed=7` with optional `items=`, `rows=` (default: as many as users), `topics=`,
///   `warm=` (fraction with history) and `policy=uniform` or `policy=egreedy:0.1`;
/// - a path to an OBD-format CSV, with `item_context.csv` beside it.
public enum DatasetSpecifier: Sendable, Equatable {
    /// A file of the OBD sample.
    case obd(OBDSource)
    /// Simulated logs.
    case synthetic(SimulatorConfig, rows: Int, policy: LoggingPolicy)
    /// An OBD-format CSV file.
    case csv(path: String)

    /// The most users of a `synthetic:` log (its population).
    public static let maximumUsers = 10_000_000
    /// The most rows of a `synthetic:` log.
    public static let maximumRows = 100_000_000
    /// The most topics of a `synthetic:` world (as for `simulator:` worlds).
    public static let maximumTopics = 64

    /// Parses a specifier.
    /// - Throws: `DataError.invalidSpecification`, also for a size outside its range: users 1…10,000,000, items
    ///   2…1,000,000, rows 1…100,000,000, topics 1…64.
    public init(parsing text: String) throws(DataError) {
        if text.hasPrefix("obd:") {
            guard let source = OBDSource(String(text.dropFirst(4))) else {
                throw .invalidSpecification("'\(text)': expected obd:{random,bts}/{all,men,women}")
            }
            self = .obd(source)
        } else if text.hasPrefix("synthetic:") || text == "synthetic" {
            var config = SimulatorConfig()
            var rows: Int?
            var policy = LoggingPolicy.uniform
            var seen = Set<String>()
            let settings = text.dropFirst("synthetic:".count)
            // Empty pieces count: `users=200,` (a comma at an end, or two in a row) was taken as though complete.
            for pair in settings.isEmpty ? [] : settings.split(separator: ",", omittingEmptySubsequences: false) {
                guard !pair.isEmpty else {
                    throw .invalidSpecification("'\(text)': an empty setting (a comma at an end, or two in a row)")
                }
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw .invalidSpecification("'\(pair)': expected key=value") }
                let (key, value) = (parts[0], parts[1])
                guard seen.insert(key).inserted else { throw .invalidSpecification("\(key) is given twice") }
                // Bounded, so that sizes from a job's spec or a flag cannot overflow the world's `users × topics`
                // and `items × topics` arithmetic (a worker bounds what it simulates further).
                func integer(_ range: ClosedRange<Int> = 1...Int.max) throws(DataError) -> Int {
                    guard let v = Int(value.replacingOccurrences(of: "_", with: "")), range.contains(v) else {
                        throw .invalidSpecification(
                            range.upperBound == Int.max
                                ? "\(key)=\(value): expected a positive integer"
                                : "\(key)=\(value): expected a whole number in \(range.lowerBound)...\(range.upperBound)")
                    }
                    return v
                }
                switch key {
                case "users": config.users = try integer(1...Self.maximumUsers)
                case "items": config.items = try integer(2...SimulatorConfig.maximumItems)
                case "rows": rows = try integer(1...Self.maximumRows)
                case "topics": config.topics = try integer(1...Self.maximumTopics)
                case "seed":
                    // Any 64-bit seed, 0 included, as `simulator:seed=` takes it.
                    guard let seed = UInt64(value.replacingOccurrences(of: "_", with: "")) else {
                        throw .invalidSpecification("seed=\(value): expected a whole number in 0...\(UInt64.max)")
                    }
                    config.seed = seed
                case "warm":
                    guard let v = CSVNumber.double(value), v >= 0, v <= 1 else {
                        throw .invalidSpecification("warm=\(value): expected 0...1")
                    }
                    config.warmFraction = v
                case "policy":
                    if value == "uniform" {
                        policy = .uniform
                    } else if value.hasPrefix("egreedy:"), let e = Double(value.dropFirst(8)), e > 0, e <= 1 {
                        policy = .epsilonGreedy(epsilon: e)
                    } else {
                        throw .invalidSpecification(
                            "policy=\(value): expected uniform or egreedy:EPSILON with EPSILON in (0, 1]")
                    }
                default:
                    throw .invalidSpecification("unknown key '\(key)' (users, items, rows, topics, seed, warm, policy)")
                }
            }
            guard config.items > 1 else { throw .invalidSpecification("items must be at least 2") }
            self = .synthetic(config, rows: rows ?? config.users, policy: policy)
        } else if text.hasSuffix(".csv") {
            self = .csv(path: text)
        } else {
            throw .invalidSpecification(
                "'\(text)': expected obd:POLICY/CAMPAIGN, synthetic:KEY=VALUE,... or a .csv path")
        }
    }

    /// The name of a `synthetic:` log: every key that decides its rows, so the name parses back to the same log
    /// (`topics`, `warm` and `policy` only when they differ from the defaults, as before they were added).
    static func syntheticName(_ config: SimulatorConfig, rows: Int, policy: LoggingPolicy) -> String {
        let defaults = SimulatorConfig()
        var name = "synthetic:users=\(config.users),items=\(config.items),rows=\(rows)"
        if config.topics != defaults.topics { name += ",topics=\(config.topics)" }
        if config.warmFraction != defaults.warmFraction { name += ",warm=\(config.warmFraction)" }
        if case .epsilonGreedy(let epsilon) = policy { name += ",policy=egreedy:\(epsilon)" }
        return name + ",seed=\(config.seed)"
    }

    /// Loads or generates the dataset.
    /// - Parameter obdDirectory: the `data/obd` directory for `obd:` specifiers.
    /// - Throws: `DataError`.
    public func load(obdDirectory: String) throws(DataError) -> BanditDataset {
        switch self {
        case .obd(let source):
            return try OBDLoader.load(source, obdDirectory: obdDirectory)
        case .synthetic(let config, let rows, let policy):
            return SimulatorWorld(config: config).loggedData(
                rows: rows, policy: policy, seed: config.seed &+ 1,
                name: Self.syntheticName(config, rows: rows, policy: policy))
        case .csv(let path):
            let items = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(
                "item_context.csv"
            ).path
            // A CSV dataset is a log of impressions in the Open Bandit Dataset's layout, with its catalogue beside it:
            // say so, rather than only that a file the user never named is missing.
            guard FileManager.default.fileExists(atPath: items) || !FileManager.default.fileExists(atPath: path) else {
                throw .invalidSpecification(
                    "\(path) is read as logged impressions in the Open Bandit Dataset's layout (timestamp, item_id, "
                        + "position, click, propensity_score, user_feature_*), which needs the item catalogue "
                        + "item_context.csv beside it, and there is none at \(items); a plain numeric CSV with a label "
                        + "column is for `recpool fit` and `recpool train` (docs/DATA.md)")
            }
            return try OBDLoader.load(dataFile: path, itemContextFile: items, name: path)
        }
    }
}
