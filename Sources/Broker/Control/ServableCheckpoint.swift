import RecData
import RecModel
import RecWire

/// What a scoring replica needs of a checkpoint before the registry calls it servable: it decodes (format and shapes;
/// ``Checkpoint/init(decoding:)``), it holds an MLP with one output per row (a worker's `ModelReplica` serves nothing
/// else), and its embedded feature specification, if any, decodes and is as wide as the model
/// (`FeatureSpec.servingProblem(_:inputWidth:)`). Decoding already refuses a weight that is not finite.
///
/// The broker checks this where a version enters the registry's serving path: `import` (BAD_REQUEST), `promote`
/// and `rollback` (CONFLICT), and a completed job's promotion. Without it, a version every worker refuses could be
/// promoted: `status` would name it while every replica served the one before, and a worker joining later would
/// take no work.
enum ServableCheckpoint {
    /// Why `bytes` cannot be served by a scoring replica, in words, or `nil` when it can.
    static func problem(_ bytes: [UInt8]) -> String? {
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint(decoding: bytes)
        } catch {
            return "the checkpoint does not decode: \(error)"
        }
        if let problem = checkpoint.interestModelProblem { return problem }
        // A model without a feature specification is reached only by SCORE, whose rows hold at most the column limit:
        // promoted, it replaced a servable version and every SCORE was refused TOO_LARGE. (One with a specification
        // also ranks RECOMMEND's candidates, whose rows the worker builds itself.)
        let width = checkpoint.model.network.inputWidth
        let limit = WireLimits.standard.maxColumns
        if checkpoint.featureSpec.isEmpty, width > limit {
            return "the model takes rows of \(width) features, and a SCORE row holds at most \(limit) "
                + "(docs/PROTOCOL.md, \"Limits\"): no request could reach it"
        }
        return FeatureSpec.servingProblem(checkpoint.featureSpec, inputWidth: width)
    }
}

/// A registered model version that a scoring replica cannot serve (``ServableCheckpoint``): `promote` and `rollback`
/// answer CONFLICT with it, and nothing is promoted.
struct UnservableModel: Error, CustomStringConvertible {
    /// The version asked for.
    let version: UInt64
    /// Why it cannot be served.
    let reason: String

    var description: String { "model version \(version) cannot be served: \(reason)" }
}

/// A registered version whose checkpoint file is missing from the state directory: answered `CONFLICT` naming the
/// version and how to repair it (importing the same checkpoint file stores it again under the same version).
struct MissingCheckpoint: Error, CustomStringConvertible {
    /// The version asked for.
    let version: UInt64
    /// Its checkpoint's blob name.
    let sha256: String

    var description: String {
        "model version \(version)'s checkpoint (blob \(sha256)) is missing from the state directory; import the same "
            + "checkpoint file again (recpool import) to repair it"
    }
}
