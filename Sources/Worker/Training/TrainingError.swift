/// Why a training round cannot run on this worker. Its description goes into
/// `RoundReport.error` verbatim, so each case reads as a sentence for an operator.
public enum TrainingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The job specification or the assignment is invalid.
    case invalidAssignment(String)
    /// The dataset name is neither an upload (`sha256:<hex>`) nor a built-in this worker knows.
    case unknownDataset(String)
    /// The dataset could not be parsed or loaded.
    case badDataset(String)
    /// The received state pack cannot be decoded or does not fit the model.
    case badState(String)
    /// The model kind is not trained by this worker.
    case unsupportedModel(String)
    /// Training diverged: the loss or the weights stopped being finite numbers (no state is returned).
    case diverged(String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .invalidAssignment(let s): "invalid assignment: \(s)"
        case .unknownDataset(let s): "unknown dataset: \(s)"
        case .badDataset(let s): "bad dataset: \(s)"
        case .badState(let s): "bad state: \(s)"
        case .unsupportedModel(let s): "unsupported model: \(s)"
        case .diverged(let s): "training diverged: \(s)"
        }
    }
}
