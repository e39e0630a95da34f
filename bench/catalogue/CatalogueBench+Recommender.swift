import Foundation
import RecData
import RecIndex
import RecModel
import Synchronization

/// The pool's model RECOMMEND at one catalogue size: `Recommender` over a spec fitted on the world's logs, scored by
/// the seed's interest model.
extension CatalogueBench {
    /// Measures `Recommender` three ways on the same requests: exhaustive scoring (every item, in chunks of 16,384
    /// rows, as the worker would for a small item set), retrieval with the graph walk and no restarts, and retrieval
    /// with the walk and the restarts (`RetrievalSettings` defaults, sample `--recommender-sample`).
    ///
    /// The spec is fitted on 20,000 impressions logged uniformly at random in the world (`FeatureSpec.fit`, version 3:
    /// its width does not grow with the items), and the model is the seed's shape, d → d → 64 → 1 (seed 7), trained
    /// `--recommender-epochs` epochs on those impressions (Adam 0.001, batch 32, the last epoch's weights; 0 leaves
    /// it untrained, an arbitrary function of the row). A request is a logged user's features with no events, `top`
    /// 10.
    /// - Returns: the table's rows.
    func measureRecommender(world: SimulatorWorld) throws -> [String] {
        let items = world.config.items
        let data = world.loggedData(rows: 20_000, policy: .uniform, seed: 3)
        let spec = try FeatureSpec.fit(on: data, crossBuckets: recommenderCrossBuckets)
        var trainer = MLPTrainer(model: MLP(inputWidth: spec.width, seed: 7))
        if recommenderEpochs > 0 {
            let features = spec.matrix(data)
            let rows = LabeledData(
                inputs: Matrix(rows: features.rows, cols: features.columns, values: features.values),
                targets: data.reward.map { BanditDataset.isClick(reward: $0) ? 1 : 0 })
            _ = trainer.fit(rows, config: TrainingConfig(epochs: recommenderEpochs, seed: 7, restoreBestEpoch: false))
        }
        let mlp = trainer.model
        let scoredRows = Counter()
        let scorer: @Sendable ([Float], Int) -> [Float] = { rows, width in
            scoredRows.add(rows.count / width)
            return mlp.predict(Matrix(rows: rows.count / width, cols: width, values: rows))
        }
        var settings = self.settings
        settings.restarts = recommenderRestarts
        settings.restartSample = recommenderSample
        let buildStart = ContinuousClock.now
        // The pool's index settings for this size (CatalogueRetrieval.indexParameters(items:)), with this run's flags.
        var parameters = CatalogueRetrieval.indexParameters(items: items)
        if let m { parameters.m = m }
        if let efConstruction { parameters.efConstruction = efConstruction }
        if let ef { parameters.efSearch = ef }
        parameters.insertThreads = insertThreads
        parameters.euclideanReduction = !recommenderInnerProduct
        parameters.localityOrder = !insertionOrder
        // `Recommender.withRetrieval`, with this run's distillation sample.
        let restarting =
            items < settings.exhaustiveBelow
            ? Recommender(spec: spec, scorer: scorer)
            : Recommender(
                spec: spec,
                retrieval: try RecommendRetrieval.build(
                    spec: spec, scorer: scorer, settings: settings, parameters: parameters, users: recommenderDistilUsers,
                    focus: recommenderFocus, fit: DistillationTarget(rawValue: recommenderFit) ?? .score),
                scorer: scorer)
        let buildSeconds = seconds(ContinuousClock.now - buildStart)
        let walking = Recommender(spec: spec, retrieval: restarting.retrieval?.withRestartSample(0), scorer: scorer)
        let queries = (0..<world.config.users).map { n in
            RecommendQuery(userFeatures: data.userFeatures.dictionary(n * 7 % data.rows), top: 10)
        }
        /// Every item scored, in chunks: the same scores `Recommender` gives a query without events.
        func exhaustive(_ query: RecommendQuery) -> [Int] {
            var best: [(Int, Float)] = []
            for start in stride(from: 0, to: items, by: 16_384) {
                let chunk = Array(start..<min(start + 16_384, items))
                let rows = spec.candidateRows(userFeatures: query.userFeatures, affinity: [:], items: chunk, position: 0)
                best = TopK.largestPairs(best + zip(chunk, scorer(rows, spec.width)), count: 10)
            }
            return best.map(\.0)
        }
        func answer(_ recommender: Recommender) -> (RecommendQuery) throws -> [Int] {
            { query in try recommender.recommend(query).items.map(\.item) }
        }
        /// The distilled model's own limit: its exact top `nearest` by inner product (no HNSW)
        /// and the popular rows, ranked by the interest model.
        var exactModel: ((RecommendQuery) throws -> [Int])? = nil
        if let retrieval = restarting.retrieval {
            let model = retrieval.retrieval.model
            let all = Array(0..<items)
            let embeddings = model.embeddings(rows: all, features: retrieval.items.features)
            let popular = Array(all.sorted { spec.popularity[$0] > spec.popularity[$1] }.prefix(settings.popular))
            exactModel = { query in
                let row = spec.candidateRows(userFeatures: query.userFeatures, affinity: [:], items: [0], position: 0)
                let q = try model.query(state: retrieval.stateColumns.map { row[$0] })
                let d = model.dimension
                let ip = all.map { k in (0..<d).reduce(Float(0)) { $0 + q[$1] * embeddings[k * d + $1] } }
                let found = Array(Set(TopK.largestPairs(Array(zip(all, ip)), count: settings.nearest).map(\.0) + popular))
                let scores = scorer(
                    spec.candidateRows(userFeatures: query.userFeatures, affinity: [:], items: found, position: 0), spec.width)
                return TopK.largestPairs(Array(zip(found, scores)), count: 10).map(\.0)
            }
        }
        var rows: [String] = []
        let paths: [(String, (RecommendQuery) throws -> [Int])] =
            restarting.retrieval == nil
            ? [("exhaustive (below \(settings.exhaustiveBelow) items)", answer(restarting))]
            : [("exhaustive", exhaustive), ("retrieval + walk", answer(walking))]
                + (restarting.retrieval!.restartRows.isEmpty
                    ? []
                    : [("retrieval + walk + \(settings.restarts) restarts of \(restarting.retrieval!.restartRows.count)", answer(restarting))])
        let counts = paths.indices.map { $0 == 0 ? exhaustiveRequests(items) : requests }
        var times = [[Timing]](repeating: [], count: paths.count)
        var scored = [Int](repeating: 0, count: paths.count)
        // Interleaved: request i on each path in turn, the first path rotating.
        for i in 0..<requests {
            for k in 0..<paths.count {
                let p = (i + k) % paths.count
                guard times[p].count < counts[p] else { continue }
                let before = scoredRows.value
                times[p].append(try timed { try paths[p].1(queries[i % queries.count]) })
                scored[p] += scoredRows.value - before
            }
        }
        var truths: [[Int]] = []
        for n in 0..<min(recallUsers, queries.count) { truths.append(exhaustive(queries[n])) }
        for (p, path) in paths.enumerated() {
            var kept = 0
            var modelKept = 0
            for (n, truth) in truths.enumerated() {
                kept += Set(truth).intersection(try path.1(queries[n])).count
                if p == 1, let exactModel { modelKept += Set(truth).intersection(try exactModel(queries[n])).count }
            }
            let modelRecall = p == 1 && exactModel != nil ? String(format: "%.3f", Double(modelKept) / Double(truths.count * 10)) : "—"
            let latency = Latency(times: times[p])
            func ms(_ v: Double) -> String { String(format: "%.3f", v) }
            rows.append(
                "| \(items) | recommender (d \(spec.width)) | \(path.0) | \(ms(latency.p50Ms)) | \(ms(latency.p99Ms)) | \(ms(latency.cpuP50Ms)) | \(ms(latency.cpuP99Ms)) | \(latency.requests) | \(scored[p] / max(1, times[p].count)) (mean) | \(String(format: "%.3f", Double(kept) / Double(truths.count * 10))) | \(modelRecall) | \(p == 0 ? "—" : String(format: "%.1f", buildSeconds)) | \(p == 0 ? "—" : "\(restarting.retrieval?.retrieval.index.memoryBytes ?? 0)") |")
        }
        return rows
    }
}

/// A count shared with a `@Sendable` scorer.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ n: Int) { count.add(n, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
