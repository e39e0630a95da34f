import RecData
import RecModel
import RecPolicy

/// One baseline's clicks per visitor, in visitor order.
struct BaselineSeries: Sendable {
    /// The JSON name (`random`, `fixed`, `logging`, `linucb`, `logistic_ts`, `egreedy_lr`, `feature_best`,
    /// `oracle`).
    var name: String
    /// 1 when the visitor clicked the baseline's slate.
    var clicks: [Int]
}

/// The baselines of a run, on the same visitors and choice draws as the live pool. The learners learn
/// after every visitor the pool served (every visitor without a live part) from each shown item's click, in visitor
/// order; every visitor is shown each baseline's slate.
struct Baselines: Sendable {
    /// The baselines in report order.
    var series: [BaselineSeries]

    /// LinUCB's α (issue 18's best on the simulator).
    static let linUCBAlpha = 0.03
    /// ε of ε-greedy logistic regression.
    static let greedyEpsilon = 0.02
    /// The logistic regressions' prior: precision λ = 1 on every weight, mean log-odds −3 on the bias (a click on
    /// about 5% of shown items; 0 would start every item at 50% and spend the first users unlearning it).
    static let priorPrecision = 1.0, priorBias = -3.0
    /// Thompson sampling's posterior scale α (Chapelle & Li found α < 1 better; 0.25 was best of 0.25, 0.5, 1
    /// on seed 21, docs/BENCHMARKS.md).
    static let thompsonScale = 0.25

    /// The largest world the per-item baselines (LinUCB, logistic Thompson sampling, ε-greedy logistic regression,
    /// the best feature-only policy) run on; above it a run has the random, fixed, logging and oracle baselines.
    static let perItemLimit = 5_000

    /// One baseline's clicks, if it ran.
    func clicks(_ name: String) -> [Int]? { series.first { $0.name == name }?.clicks }



    /// Runs every baseline on `visitors`. A slate never holds more items than the world has: `slateLength` is cut
    /// to the world's item count (`simulator:items=2` has three slots and two items), as a served slate is.
    /// - Parameter learnsFrom: Per visitor, whether the learners learn from its clicks (the users the pool served); nil:
    ///   every visitor. Every visitor is shown each baseline's slate either way.
    static func run(
        visitors: [SimulatedVisitor], world: any VisitorWorld, fixed policy: OnlinePolicy?, slateLength requested: Int,
        seed: UInt64, learnsFrom: [Bool]? = nil
    ) throws(SimulationError) -> Baselines {
        let items = world.itemCount
        let slateLength = min(requested, items)
        var randomRng = Xoshiro256(seed: seed ^ 0x0BA5_E11E_0000_0001)
        var fixedRng = Xoshiro256(seed: seed ^ 0x0BA5_E11E_0000_0002)
        var random: [Int] = []
        var fixed: [Int] = []
        var oracle: [Int] = []
        for visitor in visitors {
            var pool = Array(0..<items)
            var randomSlate: [Int] = []
            for _ in 0..<slateLength {
                randomSlate.append(pool.remove(at: Int(randomRng.next() % UInt64(pool.count))))
            }
            random.append(clicked(visitor, randomSlate))
            if let policy {
                do throws(PolicyError) {
                    let slate = try policy.recommend(
                        userFeatures: visitor.userFeatures, top: slateLength, rng: &fixedRng
                    ).map(\.item)
                    fixed.append(clicked(visitor, slate))
                } catch {
                    throw .invalidPolicy(error)
                }
            }
            oracle.append(clicked(visitor, mostAttractive(visitor, count: slateLength)))
        }
        var series = [BaselineSeries(name: "random", clicks: random)]
        if policy != nil { series.append(BaselineSeries(name: "fixed", clicks: fixed)) }
        if let logging = world.loggingSlates(for: visitors, slateLength: slateLength, seed: seed) {
            series.append(BaselineSeries(name: "logging", clicks: zip(visitors, logging).map { clicked($0, $1) }))
        }
        guard items <= perItemLimit else {
            // A large catalogue: the per-item learners would hold a d × d matrix per item (LinUCB: 4.6 GB at
            // 100,000 items) and the feature-only reference a Monte Carlo over every item; they are left out.
            series.append(BaselineSeries(name: "oracle", clicks: oracle))
            return Baselines(series: series)
        }
        let context = OneHotContext(vocabulary: world.userVocabulary)
        let d = context.width
        var linUCB = LinUCBSlates(
            bandit: LinUCB(arms: items, dimension: d, alpha: linUCBAlpha), rng: Xoshiro256(seed: seed ^ 0x0BA5_E11E_0000_0005))
        var thompson = ThompsonSlates(
            model: LaplaceLogistic(arms: items, dimension: d, priorPrecision: priorPrecision, priorBias: priorBias), scale: thompsonScale,
            rng: Xoshiro256(seed: seed ^ 0x0BA5_E11E_0000_0003))
        var greedy = EpsilonGreedySlates(
            model: LaplaceLogistic(arms: items, dimension: d, priorPrecision: priorPrecision, priorBias: priorBias), epsilon: greedyEpsilon,
            rng: Xoshiro256(seed: seed ^ 0x0BA5_E11E_0000_0004))
        series.append(
            BaselineSeries(name: "linucb", clicks: learn(&linUCB, visitors, context, slateLength, learnsFrom)))
        series.append(
            BaselineSeries(name: "logistic_ts", clicks: learn(&thompson, visitors, context, slateLength, learnsFrom)))
        series.append(
            BaselineSeries(name: "egreedy_lr", clicks: learn(&greedy, visitors, context, slateLength, learnsFrom)))
        let best = world.featureOnlySlates(for: visitors, slateLength: slateLength)
        series.append(BaselineSeries(name: "feature_best", clicks: zip(visitors, best).map { clicked($0, $1) }))
        series.append(BaselineSeries(name: "oracle", clicks: oracle))
        return Baselines(series: series)
    }

    /// Runs a learner over the visitors in order: a slate, the visitor's click, an update per shown item (only for the
    /// visitors `learnsFrom` marks, when given).
    private static func learn<Learner: SlateLearner>(
        _ learner: inout Learner, _ visitors: [SimulatedVisitor], _ encoder: OneHotContext, _ length: Int,
        _ learnsFrom: [Bool]?
    ) -> [Int] {
        visitors.enumerated().map { index, visitor in
            let x = encoder.encode(visitor.userFeatures)
            let slate = learner.slate(context: x, length: length)
            let item = try? visitor.clicked(slate)
            if learnsFrom?[index] ?? true {
                for shown in slate { learner.learn(context: x, item: shown, click: shown == item ? 1 : 0) }
            }
            return item == nil ? 0 : 1
        }
    }

    /// The `count` items of largest top-slot attraction, best first (ties: the smaller item first), in one pass.
    static func mostAttractive(_ visitor: SimulatedVisitor, count: Int) -> [Int] {
        var best: [(item: Int, value: Double)] = []
        for item in 0..<visitor.items {
            let value = visitor.attraction(item: item, slot: 0)
            if best.count == count, let last = best.last, value <= last.value { continue }
            best.insert((item, value), at: best.firstIndex { value > $0.value } ?? best.count)
            if best.count > count { best.removeLast() }
        }
        return best.map(\.item)
    }

    private static func clicked(_ visitor: SimulatedVisitor, _ slate: [Int]) -> Int {
        // The slates are built from the world's items, so the choice cannot fail.
        ((try? visitor.clicked(slate)) ?? nil) == nil ? 0 : 1
    }
}
