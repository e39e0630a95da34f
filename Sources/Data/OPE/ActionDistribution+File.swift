/// A candidate policy given as a file: Open Bandit Pipeline's `action_dist`, an ndarray of shape
/// `(n_rounds, n_actions, len_list)` holding the candidate's probability of each item at each position for each
/// logged row, saved with `numpy.save` as float64 (or float32) in C order.
extension ActionDistribution {
    /// How far a row's probabilities at one position may sum from 1.
    public static let sumTolerance = 1e-6
    /// How far outside [0, 1] a probability in the file may lie (rounding by its writer); such a value is read as
    /// the nearest of 0 and 1, anything farther is refused.
    public static let rangeTolerance = 1e-12

    /// Reads the candidate's probabilities at each row's logged position, `action_dist[i, :, position[i]]`, as obp's
    /// estimators do.
    /// - Parameters:
    ///   - array: the `(n_rounds, n_actions, len_list)` array.
    ///   - data: the logged rows it was computed for (same rows, same order: for OBD, sorted by timestamp).
    /// - Throws: `ActionDistributionError` for a wrong shape, a probability not finite or more than
    ///   ``rangeTolerance`` outside [0, 1] (one within it is clamped to [0, 1]), or a row whose probabilities at a
    ///   position do not sum to 1.
    public init(actionDist array: NumpyArray, for data: BanditDataset) throws(ActionDistributionError) {
        guard array.shape.count == 3 else { throw .shape(array.shape, rows: data.rows, nActions: data.nActions) }
        let (n, k, lists) = (array.shape[0], array.shape[1], array.shape[2])
        guard n == data.rows, k == data.nActions, lists >= 1, lists >= (data.position.max() ?? 0) + 1 else {
            throw .shape(array.shape, rows: data.rows, nActions: data.nActions)
        }
        var probabilities = [Double](repeating: 0, count: n * k)
        for row in 0..<n {
            for list in 0..<lists {
                var sum = 0.0
                for a in 0..<k {
                    let raw = array.values[(row * k + a) * lists + list]
                    guard raw.isFinite, raw >= -Self.rangeTolerance, raw <= 1 + Self.rangeTolerance else {
                        throw .probability(row: row, action: a, position: list, value: raw)
                    }
                    // A value within the tolerance outside [0, 1] (rounding in the writer) is clamped: no estimator
                    // sees a negative probability or one above 1.
                    let p = min(max(raw, 0), 1)
                    sum += p
                    if list == data.position[row] { probabilities[row * k + a] = p }
                }
                guard abs(sum - 1) <= Self.sumTolerance else { throw .sum(row: row, position: list, sum: sum) }
            }
        }
        self.init(nActions: k, probabilities: probabilities)
    }
}

/// Why an action-distribution file cannot be a candidate policy for the logged rows.
public enum ActionDistributionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The array is not `(rows, nActions, len_list)` with `len_list` covering every logged position.
    case shape([Int], rows: Int, nActions: Int)
    /// A probability is not a finite number in [0, 1] (row, action and position are 0-based).
    case probability(row: Int, action: Int, position: Int, value: Double)
    /// A row's probabilities at a position do not sum to 1 (within `ActionDistribution.sumTolerance`).
    case sum(row: Int, position: Int, sum: Double)

    /// A one-line message.
    public var description: String {
        switch self {
        case .shape(let shape, let rows, let nActions):
            return "action distribution has shape \(shape); expected (\(rows), \(nActions), len_list) for these logs "
                + "(rows × items × positions, as obp's action_dist; len_list covering every logged position)"
        case .probability(let row, let action, let position, let value):
            return "action distribution [\(row), \(action), \(position)] is \(value), not a probability"
        case .sum(let row, let position, let sum):
            return "action distribution row \(row), position \(position) sums to \(sum), not 1"
        }
    }
}
