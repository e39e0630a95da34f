import ArgumentParser
import Foundation
import RecData
import RecIndex
import RecModel
import RecPolicy

/// `scripts/bench catalogue`: recommend latency on one thread from 100 to 1,000,000 items, retrieval-then-ranking
/// side by side with exhaustive scoring, the recall of retrieval, and replica memory and weight-sync bytes.
///
/// Each size is a simulator world (`SimulatorWorld`, 300 users) seen two ways. **MLP**: the world as a shop
/// (`RetrievalWorld`): its items with their observed topic vectors as features, an item-input Q-network fitted to its
/// click probabilities as the ranker, the bilinear retrieval model distilled from that ranker, and the HNSW index of
/// the catalogue. **Policy**: the online policy of the world's spec (`SimulatorCatalog`, a Thompson sample of its
/// prior), whose exact bilinear model is the retrieval model. A request is one user's state; exhaustive scoring runs
/// the ranker on every item, retrieval-then-ranking runs it on the candidates of `CatalogueRetrieval`. Both return
/// the top 10. The two paths are timed interleaved in one loop (request i on each path in turn), so the machine's
/// load falls on both alike.
@main
struct CatalogueBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalogue-bench", abstract: "Recommend latency and recall against the catalogue's size.")

    @Option(help: "Catalogue sizes, comma-separated.")
    var sizes = "100,1000,10000,100000,1000000"

    @Option(help: "Timed requests per size and path (exhaustive scoring gets at most 4,000,000 / size).")
    var requests = 500

    @Option(help: "Users whose top-10 is compared for recall at each size.")
    var recallUsers = 100

    @Option(help: "Candidates from the index.")
    var nearest = RetrievalSettings().nearest
    @Option(help: "Candidates of largest item prior.")
    var popular = RetrievalSettings().popular
    @Option(help: "Newest items among the candidates.")
    var newest = RetrievalSettings().newest
    @Option(help: "Catalogues below this size are scored exhaustively.")
    var exhaustiveBelow = RetrievalSettings().exhaustiveBelow
    @Option(help: "HNSW links per node (M); by default 16, and for the recommender path CatalogueRetrieval.indexParameters(items:).")
    var m: Int?
    @Option(help: "HNSW build beam; by default 100, and for the recommender path CatalogueRetrieval.indexParameters(items:).")
    var efConstruction: Int?
    @Option(help: "HNSW search beam (a search of k uses max(ef, k)); by default 300, and for the recommender path CatalogueRetrieval.indexParameters(items:).")
    var ef: Int?
    @Option(help: "Threads inserting into the index.")
    var insertThreads = 1
    @Flag(help: "Keep hnswlib's insertion order in memory (IndexParameters.localityOrder false): no renumbering of the built graph.")
    var insertionOrder = false
    @Flag(help: "Policy path: time the index in insertion order, then renumber the same graph (ItemIndex.reorderForLocality) and time it again.")
    var compareOrder = false
    @Flag(help: "Index the Euclidean reduction of inner product (hnswlib's L2 space) instead of its inner-product space.")
    var euclidean = false
    @Option(help: "Item expansion of the MLP's retrieval model: linear, quadratic, cubic.")
    var expansion = "quadratic"
    @Option(help: "Distillation focus (1: uniform item sample; k: the fit's items drawn from k × the sample, half each state's best).")
    var focus = 1
    @Option(help: "Item space of the MLP's retrieval model: expanded ([φ(x); 1]), projected (W [φ(x); 1]) or smaller (the one of fewer dimensions).")
    var itemSpace = "smaller"
    @Option(help: "State expansion of the MLP's retrieval model: linear or quadratic (the state's pairwise products too).")
    var stateExpansion = "linear"
    @Option(help: "Project the MLP's retrieval model onto this many principal directions of its queries (0: none).")
    var rank = 0
    @Option(help: "Population users whose states the MLP's retrieval model is distilled on.")
    var distilStates = 200
    @Option(help: "MLP ranker: also measure cluster retrieval with round(F × √items) k-means clusters of the item inputs (0: off).")
    var clusterFactor = 0.0
    @Option(help: "Cluster retrieval: score the members of the best clusters until at least this many rows.")
    var clusterBudget = 2_000
    @Option(help: "Cluster retrieval: refine (the index's candidates, then the clusters nearest the best of them: needs the index), bound (best-first by an upper bound of the ranker over each cluster's box) or representative (clusters ordered by their representative's score).")
    var clusterOrder = "bound"
    @Option(help: "Cluster retrieval (representative order): then also score the clusters of the best N rows found (0: off).")
    var clusterExpand = 0
    @Option(help: "Cluster retrieval, with --cluster-expand: the clusters of the M centroids nearest each of those rows.")
    var clusterNeighbours = 1
    @Flag(help: "Cluster retrieval: union the cluster candidates with the index's (nearest, popular, newest).")
    var clusterWithIndex = false
    @Option(help: "Graph order (--cluster-order graph): expand until the best N rows scored are all expanded.")
    var graphBeam = 40
    @Option(help: "Graph order: rows expanded a round (their graph neighbours scored in one batch).")
    var graphExpand = 8
    @Option(help: "Graph order: the most rows scored beyond the index's candidates by the main walk.")
    var graphBudget = 4_000
    @Option(help: "Graph order: also walk from each of the best N of a fixed sample of rows spread over the catalogue, apart.")
    var graphRestarts = 0
    @Option(help: "Graph order, with --graph-restarts: the sample's size.")
    var restartSample = 2_000
    @Option(help: "Graph order, with --graph-restarts: each walk's beam.")
    var restartBeam = 10
    @Option(help: "Graph order, with --graph-restarts: rows each walk expands a round.")
    var restartExpand = 2
    @Option(help: "Graph order, with --graph-restarts: each walk's budget.")
    var restartBudget = 400
    @Flag(help: "MLP ranker: skip the HNSW path (no index build; its columns repeat exhaustive scoring's recall of 1).")
    var skipIndex = false
    @Flag(help: "Policy ranker: do not complete the index's nearest rows by bucket bias (the path before PriorGroups).")
    var noPriorGroups = false

    @Option(help: "Paths, comma-separated: mlp, policy, recommender (the pool's RECOMMEND), or both (mlp and policy).")
    var paths = "both"
    @Option(help: "Recommender path: also measure this many restarts (RetrievalSettings.restarts; 0: not measured).")
    var recommenderRestarts = 16
    @Option(help: "Recommender path: the restarts' sample (RetrievalSettings.restartSample).")
    var recommenderSample = RetrievalSettings().restartSample
    @Option(help: "Recommender path: the spec's user × item cross buckets (FeatureSpec.fit's crossBuckets; 0: none; default: the fit's own choice).")
    var recommenderCrossBuckets: Int?
    @Option(help: "Recommender path: sampled users the retrieval model is distilled on (RecommendRetrieval.build's users).")
    var recommenderDistilUsers: Int?
    @Option(help: "Recommender path: the distillation's focus (RecommendRetrieval.build's focus; 1: a uniform item sample).")
    var recommenderFocus = 8
    @Option(help: "Recommender path: what the retrieval model is fitted to, score or logit (RecommendRetrieval.build's fit).")
    var recommenderFit = DistillationTarget.score.rawValue
    @Flag(help: "Recommender path: index in hnswlib's inner-product space instead of the pool's Euclidean reduction.")
    var recommenderInnerProduct = false
    @Option(help: "Recommender path: epochs the interest model is trained on the world's logged impressions (0: untrained).")
    var recommenderEpochs = 2

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    func validate() throws {
        guard requests >= 1, recallUsers >= 1 else { throw ValidationError("--requests and --recall-users must be at least 1") }
        guard !parsedSizes.isEmpty, parsedSizes.allSatisfy({ $0 >= 2 }) else {
            throw ValidationError("--sizes must be a comma-separated list of item counts of at least 2, got '\(sizes)'")
        }
        guard ItemExpansion(rawValue: expansion) != nil else { throw ValidationError("--expansion must be linear, quadratic or cubic") }
        guard ["linear", "quadratic"].contains(stateExpansion), distilStates >= 1, rank >= 0 else {
            throw ValidationError("--state-expansion must be linear or quadratic, --distil-states at least 1, --rank at least 0")
        }
        guard ["expanded", "projected", "smaller"].contains(itemSpace) else {
            throw ValidationError("--item-space must be expanded, projected or smaller")
        }
        guard !parsedPaths.isEmpty, parsedPaths.allSatisfy({ ["mlp", "policy", "recommender"].contains($0) }) else {
            throw ValidationError("--paths must list mlp, policy, recommender or both, got '\(paths)'")
        }
        guard recommenderSample >= 1 else { throw ValidationError("--recommender-sample must be at least 1") }
        guard DistillationTarget(rawValue: recommenderFit) != nil else {
            throw ValidationError("--recommender-fit must be score or logit, got '\(recommenderFit)'")
        }
        guard ["bound", "representative", "refine", "graph"].contains(clusterOrder) else {
            throw ValidationError("--cluster-order must be bound, representative, refine or graph")
        }
        guard clusterFactor >= 0, clusterBudget >= 1, !(skipIndex && (clusterWithIndex || ["refine", "graph"].contains(clusterOrder))), graphBeam >= 1, graphExpand >= 1, graphBudget >= 0 else {
            throw ValidationError("--cluster-factor must be at least 0, --cluster-budget at least 1, and --skip-index cannot go with --cluster-with-index")
        }
        guard nearest >= 1, popular >= 0, newest >= 0, (m ?? 2) >= 2, (efConstruction ?? 1) >= 1, (ef ?? 1) >= 1, insertThreads >= 1, focus >= 1 else {
            throw ValidationError("candidate counts, HNSW settings, threads and focus must be positive")
        }
    }

    var parsedPaths: Set<String> {
        Set(paths.split(separator: ",").flatMap { $0 == "both" ? ["mlp", "policy"] : [String($0)] })
    }
    var parsedSizes: [Int] { sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    var settings: RetrievalSettings {
        RetrievalSettings(exhaustiveBelow: exhaustiveBelow, nearest: nearest, popular: popular, newest: newest)
    }
    var parameters: IndexParameters {
        IndexParameters(
            m: m ?? IndexParameters().m, efConstruction: efConstruction ?? IndexParameters().efConstruction, efSearch: ef ?? IndexParameters().efSearch, insertThreads: insertThreads, euclideanReduction: euclidean,
            localityOrder: !insertionOrder && !compareOrder)
    }

    func run() throws {
        var results: [SizeResult] = []
        print(
            "settings: nearest \(nearest) popular \(popular) newest \(newest) exhaustiveBelow \(exhaustiveBelow) M \(m.map(String.init) ?? "default") efConstruction \(efConstruction.map(String.init) ?? "default") ef \(ef.map(String.init) ?? "default") insertThreads \(insertThreads) euclidean \(euclidean) localityOrder \(parameters.localityOrder) expansion \(expansion) focus \(focus)"
        )
        print("| items | ranker | path | p50 ms | p99 ms | CPU p50 ms | CPU p99 ms | requests | candidates | recall@10 | model recall@10 | index build s | index bytes |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for size in parsedSizes {
            var config = SimulatorConfig()
            config.items = size
            // The recall users (the first `recallUsers`) are not among the states the MLP's retrieval is fitted on
            // (the last `distilStates`).
            config.users = max(300, recallUsers + distilStates)
            config.seed = 11
            let world = SimulatorWorld(config: config)
            if parsedPaths.contains("recommender") {
                for row in try measureRecommender(world: world) { report(row) }
            }
            if parsedPaths.contains("mlp") {
                let result = try measureMLP(world: world)
                results.append(result)
                for row in result.rows { report(row) }
            }
            if parsedPaths.contains("policy") {
                let result = try measurePolicy(world: world)
                results.append(result)
                for row in result.rows { report(row) }
            }
        }
        print("\nReplica memory that depends on the catalogue, and weight-sync bytes (MLP ranker):")
        print("| items | item features B | HNSW index B | ranker weights B | retrieval model B | replica total B | weight sync B |")
        print("|---|---|---|---|---|---|---|")
        for r in results where r.ranker == "mlp" {
            print("| \(r.items) | \(r.itemFeatureBytes) | \(r.indexBytes) | \(r.networkBytes) | \(r.retrievalModelBytes) | \(r.replicaBytes) | \(r.syncBytes) |")
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            try encoder.encode(results).write(to: URL(fileURLWithPath: json))
        }
    }

    /// The item-input MLP ranker and its distilled retrieval model.
    func measureMLP(world: SimulatorWorld) throws -> SizeResult {
        let items = world.config.items
        let catalogue = RetrievalWorld.catalogue(world: world)
        let ranker = RetrievalWorld.ranker(world: world, catalogue: catalogue, samples: 20_000, epochs: 3)
        let states = ((world.config.users - distilStates)..<world.config.users).map {
            RetrievalWorld.state(world: world, user: $0)
        }
        let distilled = try BilinearRetrieval.distil(
            ranker: ranker, states: states, catalogue: catalogue, expansion: ItemExpansion(rawValue: expansion)!,
            focus: focus, stateExpansion: ItemExpansion(rawValue: stateExpansion)!)
        var model: BilinearRetrieval
        switch itemSpace {
        case "expanded": model = distilled
        case "projected":
            model = try BilinearRetrieval(
                stateWidth: distilled.stateWidth, itemWidth: distilled.itemWidth, expansion: distilled.expansion,
                weights: distilled.weights, itemSpace: .projected, stateExpansion: distilled.stateExpansion)
        default: model = distilled.inSmallerSpace()
        }
        if rank > 0 { model = try model.reduced(rank: min(rank, model.baseDimension), states: states) }
        let buildStart = ContinuousClock.now
        let retrieval = try CatalogueRetrieval.build(
            catalogue: skipIndex ? try Self.firstRows(catalogue, 2) : catalogue, model: model, embeddings: 1,
            catalogueVersion: 1, settings: settings, parameters: parameters)
        let buildSeconds = seconds(ContinuousClock.now - buildStart)
        let all = catalogue.activeIndices
        let everything = catalogue.featureMatrix(rows: all)
        let users = (0..<world.config.users).map { RetrievalWorld.state(world: world, user: $0) }
        let itemEmbeddings = skipIndex ? [] : model.embeddings(rows: all, features: catalogue.features)
        func exhaustive(_ state: [Float]) -> [Int] {
            let q = ranker.qValues(states: Matrix(rows: 1, cols: state.count, values: state), items: everything).values
            return CandidateRanking.top(10, rows: all, scores: q)
        }
        var truths: [[Float]: [Int]] = [:]
        /// Exhaustive scoring's top 10, computed once per state (the recall of both retrieval paths compares with it).
        func truth(_ state: [Float]) -> [Int] {
            if let known = truths[state] { return known }
            let top = exhaustive(state)
            truths[state] = top
            return top
        }
        var candidateCount = 0
        func retrieved(_ state: [Float]) throws -> [Int] {
            if skipIndex { return [0] }
            let found = try retrieval.candidates(state: state, catalogue: catalogue)
            candidateCount = found.rows.count
            let q = CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: found.rows)
            return CandidateRanking.top(10, rows: found.rows, scores: q)
        }
        /// The model's own limit: its exact top `nearest` by inner product (no HNSW), ranked by the ranker.
        func exactModel(_ state: [Float]) throws -> [Int] {
            if skipIndex { return [] }
            let query = try model.query(state: state)
            let d = model.dimension
            let ip = all.indices.map { k in (0..<d).reduce(Float(0)) { $0 + query[$1] * itemEmbeddings[k * d + $1] } }
            let rows = CandidateRanking.top(nearest, rows: all, scores: ip)
            let q = CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: rows)
            return CandidateRanking.top(10, rows: rows, scores: q)
        }
        let restartRows = graphRestarts > 0 ? stride(from: 0, to: all.count, by: max(1, all.count / restartSample)).map { all[$0] } : []
        let clusterCount = Int((clusterFactor * Double(items).squareRoot()).rounded())
        let clusterStart = ContinuousClock.now
        let graph = clusterOrder == "graph" && items >= settings.exhaustiveBelow
        let clusters = !graph && clusterCount >= 1 && items >= settings.exhaustiveBelow
            ? try ItemClusters.build(catalogue: catalogue, clusters: clusterCount) : nil
        let clusterSeconds = seconds(ContinuousClock.now - clusterStart)
        var clusterCandidates = 0
        var exactSearches = 0
        var searches = 0
        /// Cluster retrieval: the ranker scores every cluster's representative, then the members of the best clusters
        /// (and, with --cluster-with-index, the index's candidates); the representatives are candidates too.
        func clustered(_ state: [Float]) throws -> [Int] {
            if graph {
                // The index's candidates, then a walk of its graph by the ranker from the best of them.
                let index = try retrieval.candidates(state: state, catalogue: catalogue).rows
                let q = CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: index)
                // Restarts: the best of a fixed sample of rows spread over the catalogue, each walked apart.
                var restarts: [(Int, Float)] = []
                if graphRestarts > 0 {
                    let sq = CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: restartRows)
                    restarts = TopK.largestPairs(Array(zip(restartRows, sq)), count: graphRestarts)
                }
                let found = GraphSearch.refine(
                    10, ranker: ranker, state: state, catalogue: catalogue, index: retrieval.index,
                    scored: Array(zip(index, q)), beam: graphBeam, expand: graphExpand, budget: graphBudget,
                    restarts: restarts, restartBeam: restartBeam, restartExpand: restartExpand, restartBudget: restartBudget)
                clusterCandidates = max(clusterCandidates, index.count + restartRows.count + found.scored)
                return found.rows
            }
            guard let clusters else { return [] }
            if clusterOrder == "bound" {
                let found = ClusterSearch.top(
                    10, ranker: ranker, state: state, catalogue: catalogue, clusters: clusters, budget: clusterBudget)
                clusterCandidates = max(clusterCandidates, found.scored)
                if found.exact { exactSearches += 1 }
                searches += 1
                return found.rows
            }
            if clusterOrder == "refine" {
                let index = try retrieval.candidates(state: state, catalogue: catalogue).rows
                let q = CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: index)
                let found = ClusterSearch.refine(
                    10, ranker: ranker, state: state, catalogue: catalogue, clusters: clusters,
                    scored: Array(zip(index, q)), expand: clusterExpand, neighbours: clusterNeighbours)
                clusterCandidates = max(clusterCandidates, index.count + found.scored)
                return found.rows
            }
            let found = ClusterSearch.byRepresentatives(
                10, ranker: ranker, state: state, catalogue: catalogue, clusters: clusters, budget: clusterBudget,
                expand: clusterExpand, neighbours: clusterNeighbours)
            var rows = found.rows
            var scores = found.scores
            var scored = found.scored
            if clusterWithIndex {
                // The top 10 of a union of candidate sets is the top 10 of the union of each set's top 10.
                let index = try retrieval.candidates(state: state, catalogue: catalogue).rows
                let q = CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: index)
                for (row, score) in TopK.largestPairs(Array(zip(index, q)), count: 10) where !rows.contains(row) {
                    rows.append(row)
                    scores.append(score)
                }
                scored += index.count
            }
            clusterCandidates = max(clusterCandidates, scored)
            return CandidateRanking.top(10, rows: rows, scores: scores)
        }

        // The cluster path, when measured, is timed in the same loop (request i on each path in turn).
        let (exhaustiveTimes, retrievalTimes, times) = try timeSideBySide(
            exhaustiveCount: exhaustiveRequests(items), users: users, exhaustive: exhaustive, retrieval: retrieved,
            third: clusters == nil && !graph ? nil : clustered)
        let (recallCount, kept, modelKept) = try recallCounts(
            items: items, users: users, exhaustive: truth, retrieved: retrieved, exactModel: exactModel)
        var clusterResult: ClusterResult?
        if clusters != nil || graph {
            let (_, clusterKept, _) = try recallCounts(
                items: 0, users: users, exhaustive: truth, retrieved: clustered, exactModel: { _ in [] })
            let sizes = clusters?.members.map { $0.count } ?? []
            clusterResult = ClusterResult(
                clusters: clusters?.count ?? 0, largestCluster: sizes.max() ?? 0, budget: graph ? graphBudget : clusterBudget,
                order: graph ? "graph beam \(graphBeam) expand \(graphExpand)\(graphRestarts > 0 ? ", \(graphRestarts) restarts of \(restartRows.count)" : "")" : clusterOrder,
                expand: graph ? 0 : clusterExpand, neighbours: clusterNeighbours, exactShare: searches > 0 ? Double(exactSearches) / Double(searches) : 0,
                withIndex: clusterWithIndex, latency: Latency(times: times), candidates: clusterCandidates,
                recallAt10: Double(clusterKept) / Double(recallCount * 10), buildSeconds: clusterSeconds)
        }
        return SizeResult(
            clusters: clusterResult, items: items, ranker: "mlp", exhaustive: Latency(times: exhaustiveTimes), retrieval: Latency(times: retrievalTimes),
            candidates: items < settings.exhaustiveBelow ? items : candidateCount, exhaustiveBelow: settings.exhaustiveBelow,
            recallAt10: Double(kept) / Double(recallCount * 10),
            modelRecallAt10: items <= 100_000 ? Double(modelKept) / Double(recallCount * 10) : nil,
            indexBuildSeconds: buildSeconds, indexBytes: retrieval.index.memoryBytes,
            itemFeatureBytes: catalogue.features.count * MemoryLayout<Float>.size,
            networkBytes: ranker.network.parameterCount * MemoryLayout<Float>.size,
            retrievalModelBytes: (model.weights.count + model.reduction.count) * MemoryLayout<Float>.size, indexDimension: model.dimension)
    }

    /// The online policy of the world's spec (a Thompson sample of its prior), retrieval by its exact bilinear model.
    func measurePolicy(world: SimulatorWorld) throws -> SizeResult {
        let items = world.config.items
        var rng = Xoshiro256(seed: 5)
        let policy = try OnlinePolicy.initial(spec: SimulatorCatalog.spec(world: world)).sampled(rng: &rng)
        let model = try policy.retrievalModel()
        let reduced = try policy.reducedCatalogue()
        let buildStart = ContinuousClock.now
        let built = try CatalogueRetrieval.build(
            catalogue: reduced, model: model, embeddings: 0, catalogueVersion: 1, settings: settings, parameters: parameters)
        // The pool's path (PolicyRetrieval): popular rows and the completion from the bucket biases.
        let retrieval =
            noPriorGroups
            ? try built.with(model: model, priors: policy.retrievalPriors, catalogue: reduced)
            : try built.with(model: model, catalogue: reduced, groups: try policy.retrievalPriorGroups(reduced: reduced))
        let buildSeconds = seconds(ContinuousClock.now - buildStart)
        let all = policy.catalogue.activeIndices
        var userRng = Xoshiro256(seed: 17)
        let users: [[Double]] = try (0..<world.config.users).map { _ in
            var features: [String: String] = [:]
            for feature in policy.spec.userFeatures {
                features[feature.name] = feature.values[userRng.nextInt(below: feature.values.count)]
            }
            return try policy.userVector(features)
        }
        func exhaustive(_ z: [Double]) -> [Int] {
            CandidateRanking.top(10, rows: all, scores: policy.scores(z: z, items: all).map(Float.init))
        }
        var candidateCount = 0
        func retrieved(_ z: [Double]) throws -> [Int] {
            let found = try retrieval.candidates(state: z.map(Float.init), catalogue: policy.catalogue)
            candidateCount = found.rows.count
            return CandidateRanking.top(10, rows: found.rows, scores: policy.scores(z: z, items: found.rows).map(Float.init))
        }
        let itemEmbeddings = model.embeddings(rows: all, features: reduced.features)
        /// Exact retrieval: the model's exact top `nearest` by inner product (no HNSW) and the popular rows.
        func exactModel(_ z: [Double]) throws -> [Int] {
            let query = try model.query(state: z.map(Float.init))
            let d = model.dimension
            let ip = all.indices.map { k in (0..<d).reduce(Float(0)) { $0 + query[$1] * itemEmbeddings[k * d + $1] } }
            let rows = Array(Set(CandidateRanking.top(nearest, rows: all, scores: ip) + retrieval.popularRows.prefix(popular)))
            return CandidateRanking.top(10, rows: rows, scores: policy.scores(z: z, items: rows).map(Float.init))
        }
        if compareOrder && items >= settings.exhaustiveBelow {
            // The same graph twice: first as hnswlib inserted it, then renumbered for locality (the timed path below).
            let (_, insertionTimes, _) = try timeSideBySide(
                exhaustiveCount: 0, users: users, exhaustive: exhaustive, retrieval: retrieved)
            let latency = Latency(times: insertionTimes)
            func ms(_ v: Double) -> String { String(format: "%.3f", v) }
            let reorderStart = ContinuousClock.now
            try retrieval.index.reorderForLocality()
            let reorderSeconds = seconds(ContinuousClock.now - reorderStart)
            report(
                "| \(items) | policy | retrieval, insertion order (renumbered next in \(String(format: "%.1f", reorderSeconds)) s) | \(ms(latency.p50Ms)) | \(ms(latency.p99Ms)) | \(ms(latency.cpuP50Ms)) | \(ms(latency.cpuP99Ms)) | \(latency.requests) | — | — | — | — | — |")
        }
        let (exhaustiveTimes, retrievalTimes, _) = try timeSideBySide(
            exhaustiveCount: exhaustiveRequests(items), users: users, exhaustive: exhaustive, retrieval: retrieved)
        let (recallCount, kept, modelKept) = try recallCounts(
            items: items, users: users, exhaustive: exhaustive, retrieved: retrieved, exactModel: exactModel)
        return SizeResult(
            clusters: nil, items: items, ranker: "policy", exhaustive: Latency(times: exhaustiveTimes),
            retrieval: Latency(times: retrievalTimes),
            candidates: items < settings.exhaustiveBelow ? items : candidateCount, exhaustiveBelow: settings.exhaustiveBelow,
            recallAt10: Double(kept) / Double(recallCount * 10),
            modelRecallAt10: items <= 100_000 ? Double(modelKept) / Double(recallCount * 10) : nil,
            indexBuildSeconds: buildSeconds,
            indexBytes: retrieval.index.memoryBytes,
            itemFeatureBytes: reduced.features.count * MemoryLayout<Float>.size,
            networkBytes: policy.coefficients.theta.count * MemoryLayout<Double>.size,
            retrievalModelBytes: (model.weights.count + model.reduction.count) * MemoryLayout<Float>.size, indexDimension: model.dimension)
    }

    /// Prints a row, and copies it to standard error (unbuffered) so a long run shows its progress.
    func report(_ row: String) {
        print(row)
        FileHandle.standardError.write(Data((row + "\n").utf8))
    }

    /// The first `n` rows of a catalogue (the stand-in index of --skip-index).
    static func firstRows(_ catalogue: ItemCatalogue, _ n: Int) throws -> ItemCatalogue {
        try ItemCatalogue(
            encoding: catalogue.encoding, ids: Array(catalogue.ids.prefix(n)),
            features: Array(catalogue.features.prefix(n * catalogue.width)))
    }

    func exhaustiveRequests(_ items: Int) -> Int { max(50, min(requests, 4_000_000 / items)) }

    /// How many of exhaustive scoring's top 10 retrieval kept, and the exact retrieval model kept (counted up to
    /// 100,000 items only: above, the exact model's full scan is too slow), over the first `recallUsers` users.
    /// - Returns: the users counted and the two sums of kept items (each at most 10 per user).
    func recallCounts<State>(
        items: Int, users: [State], exhaustive: (State) -> [Int], retrieved: (State) throws -> [Int],
        exactModel: (State) throws -> [Int]
    ) throws -> (users: Int, kept: Int, modelKept: Int) {
        let count = min(recallUsers, users.count)
        var kept = 0
        var modelKept = 0
        for user in 0..<count {
            let truth = Set(exhaustive(users[user]))
            kept += truth.intersection(try retrieved(users[user])).count
            if items <= 100_000 { modelKept += truth.intersection(try exactModel(users[user])).count }
        }
        return (count, kept, modelKept)
    }

    /// Times both paths interleaved: request i on retrieval, then (while it has requests left) on exhaustive scoring.
    /// With `third`, request i runs on it too (after retrieval), and its times are the third array.
    func timeSideBySide<State>(
        exhaustiveCount: Int, users: [State], exhaustive: (State) -> [Int], retrieval: (State) throws -> [Int],
        third: ((State) throws -> [Int])? = nil
    ) throws -> ([Timing], [Timing], [Timing]) {
        var exhaustiveTimes: [Timing] = []
        var retrievalTimes: [Timing] = []
        var thirdTimes: [Timing] = []
        let every = max(1, requests / max(exhaustiveCount, 1))
        for i in 0..<requests {
            let user = users[i % users.count]
            // The path that runs second for a state finds the index's nodes for it in cache: alternate which is first.
            if i % 2 == 1, let third { thirdTimes.append(try timed { try third(user) }) }
            retrievalTimes.append(try timed { try retrieval(user) })
            if i % 2 == 0, let third { thirdTimes.append(try timed { try third(user) }) }
            if i % every == 0 && exhaustiveTimes.count < exhaustiveCount { exhaustiveTimes.append(try timed { exhaustive(user) }) }
        }
        return (exhaustiveTimes, retrievalTimes, thirdTimes)
    }

    /// One request's wall-clock time and the CPU time its thread spent on it, in milliseconds.
    func timed(_ body: () throws -> [Int]) throws -> Timing {
        let cpuStart = Self.threadCPUSeconds()
        let start = ContinuousClock.now
        let top = try body()
        let elapsed = seconds(ContinuousClock.now - start) * 1_000
        let cpu = (Self.threadCPUSeconds() - cpuStart) * 1_000
        precondition(!top.isEmpty, "a request returned no item")
        return Timing(wallMs: elapsed, cpuMs: cpu)
    }

    /// The calling thread's CPU time (user + system), in seconds (`CLOCK_THREAD_CPUTIME_ID`, POSIX
    /// `clock_gettime`): unlike wall-clock time, it leaves out the time another process held the core.
    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// One timed request: wall-clock milliseconds, and the milliseconds of CPU time its thread spent.
struct Timing {
    var wallMs: Double
    var cpuMs: Double
}

/// p50 and p99 of one path, in milliseconds (numpy's linear percentile), of wall-clock time and of the thread's
/// CPU time (steadier on a shared machine: time the core served another process is not in it).
struct Latency: Encodable {
    var requests: Int
    var p50Ms: Double
    var p99Ms: Double
    var cpuP50Ms: Double
    var cpuP99Ms: Double

    init(times: [Timing]) {
        requests = times.count
        let wall = times.map(\.wallMs).sorted()
        let cpu = times.map(\.cpuMs).sorted()
        p50Ms = Bootstrap.percentile(sorted: wall, 50)
        p99Ms = Bootstrap.percentile(sorted: wall, 99)
        cpuP50Ms = Bootstrap.percentile(sorted: cpu, 50)
        cpuP99Ms = Bootstrap.percentile(sorted: cpu, 99)
    }
}

/// Cluster retrieval at one catalogue size (MLP ranker): k-means clusters of the item inputs, the ranker scores the
/// representatives and then the best clusters' members.
struct ClusterResult: Encodable {
    var clusters: Int
    var largestCluster: Int
    var budget: Int
    /// `bound` or `representative`.
    var order: String
    /// Rows whose clusters were also scored (representative order).
    var expand: Int
    var neighbours: Int
    /// Share of bound searches that stopped on the bound (exact top 10) rather than the budget.
    var exactShare: Double
    var withIndex: Bool
    var latency: Latency
    var candidates: Int
    var recallAt10: Double
    var buildSeconds: Double
}

/// Everything measured at one catalogue size for one ranker.
struct SizeResult: Encodable {
    /// Cluster retrieval, when measured.
    var clusters: ClusterResult?
    var items: Int
    /// `mlp` or `policy`.
    var ranker: String
    var exhaustive: Latency
    var retrieval: Latency
    var candidates: Int
    var exhaustiveBelow: Int
    var recallAt10: Double
    /// Recall of the retrieval model's exact top `nearest` (brute-force inner products, no HNSW); nil when not measured.
    var modelRecallAt10: Double?
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
        let clusterRow = clusters.map { c in
            "| \(items) | \(ranker) | clusters \(c.clusters) (largest \(c.largestCluster)), \(c.order)\(c.expand > 0 ? " + \(c.neighbours) nearest clusters of best \(c.expand)" : ""), budget \(c.budget), exact \(String(format: "%.2f", c.exactShare))\(c.withIndex ? " + index" : "") | \(ms(c.latency.p50Ms)) | \(ms(c.latency.p99Ms)) | \(ms(c.latency.cpuP50Ms)) | \(ms(c.latency.cpuP99Ms)) | \(c.latency.requests) | \(c.candidates) | \(String(format: "%.3f", c.recallAt10)) | — | \(String(format: "%.1f", c.buildSeconds)) | — |"
        }
        let small = items < exhaustiveBelow
        let model = modelRecallAt10.map { String(format: "%.3f", $0) } ?? "—"
        return [clusterRow].compactMap { $0 } + [
            "| \(items) | \(ranker) | exhaustive | \(ms(exhaustive.p50Ms)) | \(ms(exhaustive.p99Ms)) | \(ms(exhaustive.cpuP50Ms)) | \(ms(exhaustive.cpuP99Ms)) | \(exhaustive.requests) | \(items) | 1.000 | — | — | — |",
            "| \(items) | \(ranker) | retrieval\(small ? " (exhaustive below \(exhaustiveBelow))" : "") | \(ms(retrieval.p50Ms)) | \(ms(retrieval.p99Ms)) | \(ms(retrieval.cpuP50Ms)) | \(ms(retrieval.cpuP99Ms)) | \(retrieval.requests) | \(candidates) | \(String(format: "%.3f", recallAt10)) | \(small ? "—" : model) | \(String(format: "%.1f", indexBuildSeconds)) | \(indexBytes) |",
        ]
    }
}
