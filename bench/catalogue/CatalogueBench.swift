import ArgumentParser
import Foundation
import RecData
import RecIndex
import RecModel

/// `scripts/bench catalogue`: recommend latency on one thread from 100 to 1,000,000 items, retrieval-then-ranking
/// side by side with exhaustive scoring, the recall of retrieval, and replica memory and weight-sync bytes.
///
/// Each size is a simulator world (`SimulatorWorld`, 300 users) seen as a shop (`RetrievalWorld`): its items with
/// their observed topic vectors as features, an item-input Q-network fitted to its click probabilities as the
/// ranker, the bilinear retrieval model distilled from that ranker, and the HNSW index of the catalogue. A request
/// is one user's state; exhaustive scoring runs the ranker on every item, retrieval-then-ranking runs it on the
/// candidates of `CatalogueRetrieval`. Both return the top 10.
@main
struct CatalogueBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalogue-bench", abstract: "Recommend latency and recall against the catalogue's size.")

    @Option(help: "Catalogue sizes, comma-separated.")
    var sizes = "100,1000,10000,100000,1000000"

    @Option(help: "Timed requests per size and path (exhaustive scoring gets at most 2,000,000 / size more).")
    var requests = 500

    @Option(help: "Users whose top-10 is compared for recall at each size.")
    var recallUsers = 100

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    func validate() throws {
        guard requests >= 1, recallUsers >= 1 else { throw ValidationError("--requests and --recall-users must be at least 1") }
        guard !parsedSizes.isEmpty, parsedSizes.allSatisfy({ $0 >= 2 }) else {
            throw ValidationError("--sizes must be a comma-separated list of item counts of at least 2, got '\(sizes)'")
        }
    }

    var parsedSizes: [Int] { sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        var results: [SizeResult] = []
        print("| items | path | p50 ms | p99 ms | candidates | recall@10 | index build s | replica bytes | sync bytes |")
        print("|---|---|---|---|---|---|---|---|---|")
        for size in parsedSizes {
            let result = try measure(items: size)
            results.append(result)
            for row in result.rows { print(row) }
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            try encoder.encode(results).write(to: URL(fileURLWithPath: json))
        }
    }

    func measure(items: Int) throws -> SizeResult {
        var config = SimulatorConfig()
        config.items = items
        config.users = 300
        config.seed = 11
        let world = SimulatorWorld(config: config)
        let catalogue = RetrievalWorld.catalogue(world: world)
        let ranker = RetrievalWorld.ranker(world: world, catalogue: catalogue, samples: 20_000, epochs: 3)
        let states = (0..<200).map { RetrievalWorld.state(world: world, user: $0) }
        let model = try BilinearRetrieval.distil(ranker: ranker, states: states, catalogue: catalogue)
        let buildStart = ContinuousClock.now
        let retrieval = try CatalogueRetrieval.build(catalogue: catalogue, model: model, embeddings: 1, catalogueVersion: 1)
        let buildSeconds = seconds(ContinuousClock.now - buildStart)
        let all = catalogue.activeIndices
        let everything = catalogue.featureMatrix(rows: all)
        let users = (0..<config.users).map { RetrievalWorld.state(world: world, user: $0) }

        func exhaustive(_ state: [Float]) -> [Int] {
            let q = ranker.qValues(states: Matrix(rows: 1, cols: state.count, values: state), items: everything).values
            return CandidateRanking.top(10, rows: all, scores: q)
        }
        var candidateCount = 0
        func retrieved(_ state: [Float]) throws -> [Int] {
            let found = try retrieval.candidates(state: state, catalogue: catalogue)
            candidateCount = found.rows.count
            let q = CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: found.rows)
            return CandidateRanking.top(10, rows: found.rows, scores: q)
        }
        let exhaustiveRequests = max(20, min(requests, 2_000_000 / items))
        let exhaustiveTimes = try time(count: exhaustiveRequests, users: users) { exhaustive($0) }
        let retrievalTimes = try time(count: requests, users: users) { try retrieved($0) }
        var kept = 0
        let recallCount = min(recallUsers, config.users)
        for user in 0..<recallCount {
            kept += Set(exhaustive(users[user])).intersection(try retrieved(users[user])).count
        }
        let recall = Double(kept) / Double(recallCount * 10)
        let networkBytes = ranker.network.parameterCount * MemoryLayout<Float>.size
        let featureBytes = catalogue.features.count * MemoryLayout<Float>.size
        let retrievalBytes = model.weights.count * MemoryLayout<Float>.size
        return SizeResult(
            items: items, exhaustive: Latency(times: exhaustiveTimes), retrieval: Latency(times: retrievalTimes),
            candidates: candidateCount, exhaustiveBelow: retrieval.settings.exhaustiveBelow, recallAt10: recall,
            indexBuildSeconds: buildSeconds, indexBytes: retrieval.index.memoryBytes, itemFeatureBytes: featureBytes,
            networkBytes: networkBytes, retrievalModelBytes: retrievalBytes, indexDimension: model.dimension)
    }

    func time(count: Int, users: [[Float]], _ body: ([Float]) throws -> [Int]) throws -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let start = ContinuousClock.now
            let top = try body(users[i % users.count])
            out.append(seconds(ContinuousClock.now - start) * 1_000)
            precondition(!top.isEmpty, "a request returned no item")
        }
        return out.sorted()
    }

    func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// p50 and p99 of one path, in milliseconds (numpy's linear percentile).
struct Latency: Encodable {
    var requests: Int
    var p50Ms: Double
    var p99Ms: Double

    init(times sorted: [Double]) {
        requests = sorted.count
        p50Ms = Bootstrap.percentile(sorted: sorted, 50)
        p99Ms = Bootstrap.percentile(sorted: sorted, 99)
    }
}

/// Everything measured at one catalogue size.
struct SizeResult: Encodable {
    var items: Int
    var exhaustive: Latency
    var retrieval: Latency
    var candidates: Int
    var exhaustiveBelow: Int
    var recallAt10: Double
    var indexBuildSeconds: Double
    var indexBytes: Int
    var itemFeatureBytes: Int
    var networkBytes: Int
    var retrievalModelBytes: Int
    var indexDimension: Int

    /// A replica's item-dependent memory: the catalogue's features, the index, the network and the retrieval model.
    var replicaBytes: Int { itemFeatureBytes + indexBytes + networkBytes + retrievalModelBytes }
    /// What a weight sync ships: the network's parameters (the catalogue ships once per version, by the registry;
    /// the retrieval model is distilled on each replica from the weights it installs).
    var syncBytes: Int { networkBytes }

    var rows: [String] {
        func ms(_ v: Double) -> String { String(format: "%.3f", v) }
        return [
            "| \(items) | exhaustive | \(ms(exhaustive.p50Ms)) | \(ms(exhaustive.p99Ms)) | \(items) | 1.000 | — | \(itemFeatureBytes + networkBytes) | \(syncBytes) |",
            "| \(items) | retrieval\(items < exhaustiveBelow ? " (exhaustive below \(exhaustiveBelow))" : "") | \(ms(retrieval.p50Ms)) | \(ms(retrieval.p99Ms)) | \(candidates) | \(String(format: "%.3f", recallAt10)) | \(String(format: "%.1f", indexBuildSeconds)) | \(replicaBytes) | \(syncBytes) |",
        ]
    }
}
