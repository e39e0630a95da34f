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
    /// - Parameter job: the job the registry says trained this version (empty for an import): a checkpoint a job wrote
    ///   names its job (metadata `job`), and one naming another job is another version's file under this number (a
    ///   registry row edited or damaged), which would be served under the wrong version number.
    static func problem(_ bytes: [UInt8], job: String = "") -> String? {
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint(decoding: bytes)
        } catch {
            return "the checkpoint does not decode: \(error)"
        }
        if !job.isEmpty, let written = checkpoint.metadata["job"], !written.isEmpty, written != job {
            return "its registry row names job \(job), but the checkpoint file was written by job \(written): the row was "
                + "edited or damaged and names another version's file (restore the state directory from a backup)"
        }
        // The same rule a worker applies to `--model` and WEIGHTS (`Checkpoint.servingProblem(maxScoreColumns:)`).
        return checkpoint.servingProblem(maxScoreColumns: WireLimits.standard.maxColumns)
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
