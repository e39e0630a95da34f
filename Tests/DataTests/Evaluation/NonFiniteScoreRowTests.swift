import Foundation
import RecModel
import RecTestKit
import Testing

@testable import RecData

/// A score that is not finite is named by the dataset, row and item it belongs to, whichever scorer call met it.
@Suite("Evaluating a checkpoint: the row a non-finite score names")
struct NonFiniteScoreRowTests {
    static let data = try! OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")

    /// The largest value of each feature column over every candidate row the evaluation scores for `data`.
    static func columnMaxima(_ data: BanditDataset, _ spec: FeatureSpec) throws -> [Float] {
        var maxima = [Float](repeating: -.infinity, count: spec.width)
        _ = try ModelEvaluation.scoreEveryItem(data: data, spec: spec) { rows, width in
            for (i, v) in rows.enumerated() { maxima[i % width] = max(maxima[i % width], v) }
            return [Float](repeating: 0.5, count: rows.count / width)
        }
        return maxima
    }

    /// An MLP whose score is finite (0.5) for every row whose column `j` is at most 0, and NaN for a row where it is
    /// at least 0.5: two equal ReLU units `relu(max·x_j + max)` overflow to +∞ there, and the output `h₁ − h₂` is
    /// ∞ − ∞.
    static func overflowing(width: Int, column j: Int) -> MLP {
        var first = [Float](repeating: 0, count: 2 * width)
        first[j] = .greatestFiniteMagnitude
        first[width + j] = .greatestFiniteMagnitude
        return MLP(layers: [
            Dense(
                weight: Matrix(rows: 2, cols: width, values: first),
                bias: [.greatestFiniteMagnitude, .greatestFiniteMagnitude], activation: .relu),
            Dense(weight: Matrix(rows: 1, cols: 2, values: [1, -1]), bias: [0], activation: .sigmoid),
        ])
    }

    @Test("a NaN score on a validation row names that validation row and its logged item, not a row past the test rows")
    func validationRowIsNamed() throws {
        let spec = try FeatureSpec.fit(on: SplitDataset(Self.data).train)
        let all = spec.matrix(Self.data)
        // A column (a one-hot of a user feature value) that some rows have at 0.5 or more: those rows are the
        // validation rows, the others the evaluated ones, as long as none of the evaluated candidate rows has it
        // above 0.
        var found: (column: Int, test: BanditDataset, validation: BanditDataset)?
        for j in 0..<spec.width {
            let marked = (0..<Self.data.rows).filter { all.values[$0 * spec.width + j] >= 0.5 }
            guard !marked.isEmpty, marked.count < Self.data.rows / 2 else { continue }
            let rest = (0..<Self.data.rows).filter { all.values[$0 * spec.width + j] <= 0 }
            guard rest.count + marked.count == Self.data.rows else { continue }
            // The marked rows come after some evaluated rows, so their own row numbers differ from their place.
            let validation = Self.data.subset(marked, name: "men[validation]")
            let test = Self.data.subset(rest, name: "men[test]")
            guard try Self.columnMaxima(test, spec)[j] <= 0 else { continue }
            found = (j, test, validation)
            break
        }
        let (column, test, validation) = try #require(found, "no column separates some rows from the others")
        // The first validation row is the one whose score is NaN (every validation row has the column set).
        let row = 0
        let temporary = try TemporaryDirectory("nonfinite-row")
        defer { temporary.remove() }
        let path = temporary.file("model.ckpt").path
        try Checkpoint(model: .mlp(Self.overflowing(width: spec.width, column: column)), featureSpec: spec.encoded())
            .write(toFile: path)
        do {
            _ = try CheckpointEvaluation.evaluate(checkpointPath: path, data: test, validation: validation, resamples: 10)
            Issue.record("expected a non-finite score")
        } catch {
            guard case .nonFiniteScore(let bad) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(bad.dataset == "men[validation]")
            #expect(bad.row == row && bad.item == validation.action[row])
            #expect(bad.score.isNaN)
            #expect(error.description.contains("men[validation] row 0 (0-based), item \(validation.action[row])"))
        }
    }

    @Test("a NaN score among the evaluated rows names the row and the item of that chunk")
    func evaluatedRowIsNamed() throws {
        let spec = try FeatureSpec.fit(on: SplitDataset(Self.data).train)
        let test = Self.data
        let k = test.nActions
        // The scorer is called in chunks; the NaN is in a later chunk, so the index within one call is not the row.
        // Rows of one context are scored once (their first row), so the NaN is put on the target's candidate row
        // wherever it is scored, and the row named is the first of the target's context.
        let target = (row: test.rows - 1, item: k - 2)
        func candidate(_ row: Int, _ item: Int) -> [Float] {
            let affinity = Dictionary(uniqueKeysWithValues: test.affinity.entries(row).map { ($0.column, Double($0.value)) })
            return spec.candidateRows(
                userFeatures: test.userContext(row), affinity: affinity, items: [item], position: test.position[row])
        }
        let poisoned = candidate(target.row, target.item)
        var calls = 0
        do {
            _ = try ModelEvaluation.scoreEveryItem(data: test, spec: spec) { rows, width in
                calls += 1
                return (0..<(rows.count / width)).map { i in
                    Array(rows[(i * width)..<((i + 1) * width)]) == poisoned ? Float.nan : 0.5
                }
            }
            Issue.record("expected a non-finite score")
        } catch {
            #expect(error.dataset == test.name && error.item == target.item)
            #expect(error.row <= target.row && candidate(error.row, target.item) == poisoned, "row \(error.row)")
            #expect(error.score.isNaN)
        }
        #expect(calls > 1, "the fixture is scored in one call; the chunking is not exercised")
    }

    /// `eval` and `data ope --model` said only "the model's score is -nan" where `data features` named the column whose
    /// value z-scored past a float's range.
    @Test("a non-finite feature behind a non-finite score is named by its column and value")
    func causeNamesTheColumn() throws {
        let spec = try FeatureSpec.fit(on: SplitDataset(Self.data).train)
        var row = [Float](repeating: 0, count: spec.width)
        row[2] = -.infinity
        let cause = try #require(NonFiniteScore.cause(row[...], spec: spec))
        #expect(cause == "column \(spec.columns[2]) is -inf after scaling by the training statistics")
        #expect(NonFiniteScore.cause([Float](repeating: 1, count: spec.width)[...], spec: spec) == nil)
        let error = NonFiniteScore(dataset: "logs[test]", row: 4, item: 1, score: .nan, cause: cause)
        #expect("\(error)".hasSuffix("not a finite number (\(cause))"))
    }
}
