import Foundation
@testable import RecData
import RecIndex
import RecModel
import Testing

@Suite struct CatalogueRetrievalTests {
    /// A catalogue of `n` items with two numeric features, item `i` at (cos θ_i, sin θ_i)·(1 + i/n).
    static func ring(_ n: Int) throws -> ItemCatalogue {
        var features: [Float] = []
        for i in 0..<n {
            let theta = Double(i) * 2 * .pi / Double(n)
            let r = 1 + Double(i) / Double(n)
            features += [Float(r * cos(theta)), Float(r * sin(theta))]
        }
        return try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: ["x", "y"]), ids: (0..<n).map { "sku-\($0)" },
            features: features)
    }

    /// W for a state of width 2 and items of width 2: q(s) = (s₀, s₁, 0), no item prior.
    static let identity = try! BilinearRetrieval(stateWidth: 2, itemWidth: 2, weights: [1, 0, 0, 0, 1, 0, 0, 0, 0])

    @Test func distillationRecoversAnExactlyBilinearRanker() throws {
        let truth: [Float] = [0.5, -1, 0.2, 2, 0.3, -0.4, 0.1, 0.7, -0.2]  // 3 × 3
        let states: [[Float]] = [[1, 0], [0, 1], [1, 1], [0.5, -0.5], [0, 0]]
        let items = Matrix(rows: 4, cols: 2, values: [1, 0, 0, 1, 1, 1, -1, 2])
        var scores: [Float] = []
        for s in states {
            for j in 0..<4 {
                let x = [items.values[2 * j], items.values[2 * j + 1], 1]
                let sh = s + [1]
                var v: Float = 0
                for p in 0..<3 { for k in 0..<3 { v += sh[p] * truth[p * 3 + k] * x[k] } }
                scores.append(v)
            }
        }
        let model = try BilinearRetrieval.distil(states: states, items: items, scores: scores, ridge: 1e-9)
        for (a, b) in zip(model.weights, truth) { #expect(abs(a - b) < 1e-3) }
    }

    @Test func aSmallCatalogueIsScoredExhaustively() throws {
        let catalogue = try Self.ring(100)
        let retrieval = try CatalogueRetrieval.build(
            catalogue: catalogue, model: Self.identity, embeddings: 1, catalogueVersion: 1)
        let found = try retrieval.candidates(state: [1, 0], catalogue: catalogue, excluding: [3])
        #expect(found.exhaustive)
        #expect(found.rows == (0..<100).filter { $0 != 3 })
    }

    @Test func aLargeCatalogueGivesNearestThenPopularThenNewestCandidatesWithTheIndexVersion() throws {
        let catalogue = try Self.ring(5_000)
        let settings = RetrievalSettings(exhaustiveBelow: 1_000, nearest: 20, popular: 5, newest: 5)
        let retrieval = try CatalogueRetrieval.build(
            catalogue: catalogue, model: Self.identity, embeddings: 4, catalogueVersion: 2, settings: settings)
        let found = try retrieval.candidates(state: [1, 0], catalogue: catalogue)
        #expect(found.version == IndexVersion(embeddings: 4, catalogue: 2, generation: 1))
        #expect(found.rows.count == 30)
        #expect(Set(found.rows).count == 30)
        // The largest x is the item near θ = 0 with the largest radius: the last rows of the ring.
        let exact = (0..<5_000).sorted { catalogue.row($0).first! > catalogue.row($1).first! }.prefix(20)
        #expect(Set(found.rows.prefix(20)).intersection(exact).count >= 19)
        // The newest segment: the highest rows not already taken, newest first.
        let newest = Array(found.rows.suffix(5))
        #expect(newest == newest.sorted(by: >))
        #expect(newest.allSatisfy { $0 >= 4_970 })
    }

    @Test func aRetiredItemIsNeverACandidateEvenBeforeTheIndexFollows() throws {
        var catalogue = try Self.ring(3_000)
        let settings = RetrievalSettings(exhaustiveBelow: 1_000, nearest: 10, popular: 3, newest: 3)
        let retrieval = try CatalogueRetrieval.build(
            catalogue: catalogue, model: Self.identity, embeddings: 1, catalogueVersion: 1, settings: settings)
        let best = try retrieval.candidates(state: [1, 0], catalogue: catalogue).rows[0]
        try catalogue.retire(id: "sku-\(best)")
        // The index still holds it; the catalogue's active flag keeps it out.
        #expect(retrieval.index.contains(row: best))
        #expect(!(try retrieval.candidates(state: [1, 0], catalogue: catalogue).rows.contains(best)))
        let change = try retrieval.follow(catalogue, version: 2)
        #expect(change.added == 0 && change.removed == 1)
        #expect(!retrieval.index.contains(row: best))
        #expect(retrieval.index.version == IndexVersion(embeddings: 1, catalogue: 2, generation: 2))
        #expect(!(try retrieval.index.search(try Self.identity.query(state: [1, 0]), k: 50).hits.contains { $0.row == best }))
    }

    @Test func anAddedItemIsIndexedAfterFollowingAndIsANewestCandidateAtOnce() throws {
        var catalogue = try Self.ring(3_000)
        let settings = RetrievalSettings(exhaustiveBelow: 1_000, nearest: 10, popular: 3, newest: 3)
        let retrieval = try CatalogueRetrieval.build(
            catalogue: catalogue, model: Self.identity, embeddings: 1, catalogueVersion: 1, settings: settings)
        let row = try catalogue.add(id: "sku-new", fields: ["x": "-0.5", "y": "0.1"])
        // Not yet in the index, but the newest rows are candidates whatever their embedding.
        #expect(try retrieval.candidates(state: [1, 0], catalogue: catalogue).rows.contains(row))
        let change = try retrieval.follow(catalogue, version: 2)
        #expect(change.added == 1 && change.removed == 0)
        #expect(retrieval.index.contains(row: row))
    }

    @Test func aCatalogueOfAnotherWidthIsRefused() throws {
        let catalogue = try ItemCatalogue(
            encoding: ItemEncoding(categorical: [], numeric: ["x"]), ids: ["a"], features: [1])
        #expect(throws: RetrievalError.self) {
            try CatalogueRetrieval.build(catalogue: catalogue, model: Self.identity, embeddings: 1, catalogueVersion: 1)
        }
        #expect(throws: RetrievalError.self) { try Self.identity.query(state: [1, 2, 3]) }
    }

    @Test func retrievalThenRankingFindsTheExhaustiveTopTenOnALargeSimulatorCatalogue() throws {
        let ranked = RankedSimulatorWorld(items: 20_000, users: 300, seed: 11, samples: 6_000, epochs: 2)
        let (world, catalogue, ranker) = (ranked.world, ranked.catalogue, ranked.ranker)
        let states = (0..<200).map { RetrievalWorld.state(world: world, user: $0) }
        let model = try BilinearRetrieval.distil(ranker: ranker, states: states, catalogue: catalogue, itemSample: 1_024)
        let retrieval = try CatalogueRetrieval.build(
            catalogue: catalogue, model: model, embeddings: 1, catalogueVersion: 1)
        let all = catalogue.activeIndices
        var kept = 0
        let users = Array(200..<240)
        for user in users {
            let state = RetrievalWorld.state(world: world, user: user)
            let exhaustive = CandidateRanking.top(
                10, rows: all, scores: CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: all))
            let found = try retrieval.candidates(state: state, catalogue: catalogue)
            let ranked = CandidateRanking.top(
                10, rows: found.rows,
                scores: CandidateRanking.scores(ranker: ranker, state: state, catalogue: catalogue, rows: found.rows))
            kept += Set(exhaustive).intersection(ranked).count
        }
        let recall = Double(kept) / Double(users.count * 10)
        #expect(recall >= 0.95, "recall \(recall)")
    }

    @Test func theProjectedItemSpaceGivesTheSameInnerProductsInFewerDimensions() throws {
        // A 3-wide state against 2 item features expanded cubically (9 values): W is 4 × 10.
        let weights = (0..<40).map { Float(($0 * 37) % 11) / 5 - 1 }
        let expanded = try BilinearRetrieval(stateWidth: 3, itemWidth: 2, expansion: .cubic, weights: weights)
        let projected = expanded.inSmallerSpace()
        #expect(expanded.itemSpace == .expanded && expanded.dimension == 10)
        #expect(projected.itemSpace == .projected && projected.dimension == 4)
        let features: [Float] = [0.3, -1.2, 2, 0.5, -0.7, 0.1]
        let states: [[Float]] = [[1, 0, 0], [0.2, -1, 3], [0, 0, 0]]
        for state in states {
            let qe = try expanded.query(state: state)
            let qp = try projected.query(state: state)
            #expect(qp == state + [1])
            for row in 0..<3 {
                let ee = expanded.embedding(item: features[(2 * row)..<(2 * row + 2)])
                let ep = projected.embedding(item: features[(2 * row)..<(2 * row + 2)])
                let ipe = zip(qe, ee).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                let ipp = zip(qp, ep).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                #expect(abs(ipe - ipp) <= 1e-4 * max(1, abs(ipe)), "state \(state) item \(row): \(ipe) vs \(ipp)")
            }
        }
        // The item prior is the item-only term in either space.
        #expect(abs(expanded.itemPrior(item: features[0..<2]) - projected.itemPrior(item: features[0..<2])) < 1e-5)
        // The smaller space of a model whose state is wider than its expansion is the expanded one.
        let wide = try BilinearRetrieval(stateWidth: 5, itemWidth: 2, weights: [Float](repeating: 0.1, count: 18))
        #expect(wide.inSmallerSpace().itemSpace == .expanded)
    }

    @Test func aProjectedIndexRefusesAQueryModelWithAnotherW() throws {
        let catalogue = try Self.ring(3_000)
        let model = Self.identity.inSmallerSpace()
        #expect(model.itemSpace == .expanded)  // a 2-wide state and 2 features: nothing to gain
        let projected = try BilinearRetrieval(
            stateWidth: 2, itemWidth: 2, expansion: .quadratic,
            weights: (0..<18).map { Float($0 % 5) - 2 }, itemSpace: .projected)
        let retrieval = try CatalogueRetrieval.build(
            catalogue: catalogue, model: projected, embeddings: 1, catalogueVersion: 1)
        let priors = [Float](repeating: 0, count: catalogue.count)
        _ = try retrieval.with(model: projected, priors: priors, catalogue: catalogue)
        let other = try BilinearRetrieval(
            stateWidth: 2, itemWidth: 2, expansion: .quadratic,
            weights: (0..<18).map { Float($0 % 7) - 3 }, itemSpace: .projected)
        #expect(throws: RetrievalError.self) { try retrieval.with(model: other, priors: priors, catalogue: catalogue) }
        // The projected index finds the model's exact best item among its nearest.
        let state: [Float] = [0.4, -0.9]
        let found = try retrieval.candidates(state: state, catalogue: catalogue)
        let scores = catalogue.activeIndices.map { row -> Float in
            let q = try! projected.query(state: state)
            return zip(q, projected.embedding(item: catalogue.row(row))).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let best = CandidateRanking.top(1, rows: catalogue.activeIndices, scores: scores)
        #expect(found.rows.contains(best[0]))
    }

    @Test func aQuadraticStateExpansionFitsAScoreWhereUserFeaturesInteract() throws {
        // Two one-hot user features of 2 values each; the score of item x (1 feature) is x times +1 when the two
        // features agree and −1 when they differ: no model linear in the state fits it, the pairwise one does.
        let states: [[Float]] = [[1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 1, 0, 1]]
        let agree: [Float] = [1, -1, -1, 1]
        let xs: [Float] = [-2, -1, 0.5, 1, 3]
        var scores: [Float] = []
        for sign in agree { for x in xs { scores.append(sign * x) } }
        let items = Matrix(rows: xs.count, cols: 1, values: xs)
        let linear = try BilinearRetrieval.distil(states: states, items: items, scores: scores, ridge: 1e-9)
        let pairwise = try BilinearRetrieval.distil(
            states: states, items: items, scores: scores, ridge: 1e-9, stateExpansion: .quadratic)
        #expect(pairwise.stateExpansion == .quadratic && pairwise.expandedStateWidth == 4 + 10)
        func worst(_ model: BilinearRetrieval) throws -> Float {
            var worst: Float = 0
            for (i, state) in states.enumerated() {
                let q = try model.query(state: state)
                for (j, x) in xs.enumerated() {
                    let e = model.embedding(item: [x][...])
                    let score = zip(q, e).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                    worst = max(worst, abs(score - scores[i * xs.count + j]))
                }
            }
            return worst
        }
        #expect(try worst(pairwise) < 1e-3)
        #expect(try worst(linear) > 0.5)
        // The projected item space of the pairwise model (dimension 15 against the item's 2) is not the smaller.
        #expect(pairwise.inSmallerSpace().itemSpace == .expanded)
        let projected = try BilinearRetrieval(
            stateWidth: 4, itemWidth: 1, weights: pairwise.weights, itemSpace: .projected, stateExpansion: .quadratic)
        #expect(projected.dimension == 15)
        #expect(try projected.query(state: states[1]).count == 15)
    }

    @Test func jacobiRotationsDiagonaliseASymmetricMatrix() {
        let n = 5
        var m = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                let value = Double((i * 7 + j * 3) % 5) - 1.5 + (i == j ? 4 : 0)
                m[i * n + j] = value
                m[j * n + i] = value
            }
        }
        let (values, vectors) = SymmetricEigen.decompose(m, size: n)
        for k in 0..<n {
            for i in 0..<n {
                let mv = (0..<n).reduce(0.0) { $0 + m[i * n + $1] * vectors[$1 * n + k] }
                #expect(abs(mv - values[k] * vectors[i * n + k]) < 1e-9)
            }
            for l in 0..<n {
                let dot = (0..<n).reduce(0.0) { $0 + vectors[$1 * n + k] * vectors[$1 * n + l] }
                #expect(abs(dot - (k == l ? 1 : 0)) < 1e-9)
            }
        }
        // The trace is kept.
        let trace: Double = (0..<n).reduce(0.0) { $0 + m[$1 * n + $1] }
        let sum: Double = values.reduce(0, +)
        #expect(abs(sum - trace) < 1e-9)
    }

    @Test func aReducedModelKeepsTheInnerProductsOfQueriesInItsSpan() throws {
        // A 2-wide state against 2 item features expanded quadratically (dimension 6): the queries Wᵀ[s; 1] span
        // at most 3 directions, so rank 3 keeps every inner product and rank 1 does not.
        let weights = (0..<18).map { Float(($0 * 5) % 7) / 3 - 1 }
        let model = try BilinearRetrieval(stateWidth: 2, itemWidth: 2, expansion: .quadratic, weights: weights)
        let states: [[Float]] = [[1, 0], [0, 1], [0.5, 2], [-1, 1], [0, 0]]
        let full = try model.reduced(rank: 3, states: states)
        #expect(full.dimension == 3 && full.baseDimension == 6 && full.rank == 3)
        let one = try model.reduced(rank: 1, states: states)
        let items: [Float] = [0.3, -1, 2, 0.5, -0.4, 1.5]
        var worstOne: Float = 0
        for state in states + [[2, -3]] {
            for row in 0..<3 {
                let x = items[(2 * row)..<(2 * row + 2)]
                let exact = zip(try model.query(state: state), model.embedding(item: x)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                let reduced = zip(try full.query(state: state), full.embedding(item: x)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                #expect(abs(exact - reduced) < 1e-3 * max(1, abs(exact)), "\(state) \(row): \(exact) vs \(reduced)")
                let low = zip(try one.query(state: state), one.embedding(item: x)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                worstOne = max(worstOne, abs(exact - low))
            }
        }
        #expect(worstOne > 0.1)
        #expect(throws: RetrievalError.self) { try model.reduced(rank: 7, states: states) }
        #expect(throws: RetrievalError.self) { try full.reduced(rank: 2, states: states) }
        #expect(throws: RetrievalError.self) { try model.reduced(rank: 2, states: [[1, 2, 3]]) }
        // An index of reduced items refuses another reduction of the same model.
        let catalogue = try Self.ring(3_000)
        let quadratic = try BilinearRetrieval(stateWidth: 2, itemWidth: 2, expansion: .quadratic, weights: weights)
        let reducedTwo = try quadratic.reduced(rank: 2, states: states)
        let retrieval = try CatalogueRetrieval.build(
            catalogue: catalogue, model: reducedTwo, embeddings: 1, catalogueVersion: 1)
        let priors = [Float](repeating: 0, count: catalogue.count)
        let otherTwo = try quadratic.reduced(rank: 2, states: [[1, 0], [0, 0]])
        #expect(throws: RetrievalError.self) { try retrieval.with(model: otherTwo, priors: priors, catalogue: catalogue) }
    }
}
