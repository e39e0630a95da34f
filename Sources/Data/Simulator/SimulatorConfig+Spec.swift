import Foundation

extension SimulatorConfig {
    /// The prefix of a simulator world's name (`recpool simulate --world simulator:items=100000`).
    public static let specPrefix = "simulator"

    /// The most items a named simulator world may have (the largest catalogue `scripts/bench catalogue` measures).
    public static let maximumItems = 1_000_000

    /// A simulator world named by text: `simulator` alone is the default world (the one `recpool-broker --online`
    /// serves), and `simulator:KEY=VALUE,…` changes it, with keys `items` (2…1,000,000), `users` (the logged
    /// population, 1…1,000,000; default 10,000, or 200 when `items` is given, since the population costs
    /// `users × items` utilities to build and `recpool simulate` draws new users anyway), `topics` (1…64) and
    /// `seed`. The catalogue depends on `items`, `topics` and `seed` only.
    /// - Throws: ``DataError/invalidSpecification(_:)`` naming the key or value that is wrong.
    public static func parse(spec text: String) throws(DataError) -> SimulatorConfig {
        let name = text.trimmingCharacters(in: .whitespaces)
        guard name == specPrefix || name.hasPrefix(specPrefix + ":") else {
            throw .invalidSpecification("'\(text)': a simulator world is simulator or simulator:items=N,users=N,topics=N,seed=N")
        }
        var config = SimulatorConfig()
        let body = name.dropFirst(specPrefix.count + (name == specPrefix ? 0 : 1))
        guard name == specPrefix || !body.isEmpty else {
            throw .invalidSpecification("'\(text)': nothing after simulator: (give items=N, users=N, topics=N or seed=N)")
        }
        var seen = Set<String>()
        var usersGiven = false
        for pair in body.isEmpty ? [] : body.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw .invalidSpecification("'\(text)': '\(pair)' is not KEY=VALUE")
            }
            let (key, value) = (parts[0], parts[1])
            guard seen.insert(key).inserted else { throw .invalidSpecification("'\(text)': \(key) is given twice") }
            func number(_ range: ClosedRange<Int>) throws(DataError) -> Int {
                guard let n = Int(value), range.contains(n) else {
                    throw .invalidSpecification(
                        "'\(text)': \(key) must be a whole number in \(range.lowerBound)...\(range.upperBound), got '\(value)'")
                }
                return n
            }
            switch key {
            case "items": config.items = try number(2...maximumItems)
            case "users":
                config.users = try number(1...1_000_000)
                usersGiven = true
            case "topics": config.topics = try number(1...64)
            case "seed":
                guard let seed = UInt64(value) else {
                    throw .invalidSpecification("'\(text)': seed must be a whole number in 0...\(UInt64.max), got '\(value)'")
                }
                config.seed = seed
            default:
                throw .invalidSpecification("'\(text)': unknown key \(key) (items, users, topics, seed)")
            }
        }
        if seen.contains("items") && !usersGiven { config.users = 200 }
        return config
    }
}
