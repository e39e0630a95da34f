import RecData
import RecModel

/// The model a worker serves, with the version that names it. A value: swapping replicas between
/// batches is an assignment, so a batch is always scored entirely by one version.
public struct ModelReplica: Sendable {
    /// The model version in every reply this replica produces.
    public var version: UInt64
    /// The MLP interest model.
    public var mlp: MLP
    /// Ranks items from raw user context, when the model was trained with a feature specification.
    public var recommender: Recommender?

    /// Creates a replica; `featureSpec` is the checkpoint's specification blob (empty for none).
    public init(version: UInt64, mlp: MLP, featureSpec: [UInt8] = []) {
        self.version = version
        self.mlp = mlp
        if !featureSpec.isEmpty, let spec = try? FeatureSpec.decode(featureSpec), spec.width == mlp.inputWidth {
            recommender = Recommender(spec: spec) { rows, width in
                mlp.predict(Matrix(rows: rows.count / width, cols: width, values: rows))
            }
        }
    }

    /// The features per row the model expects.
    public var inputWidth: Int { mlp.inputWidth }

    /// A seeded random initialisation of the default architecture (d → d → 64 → 1), version 0.
    public static func seeded(inputWidth: Int, seed: UInt64) -> ModelReplica {
        ModelReplica(version: 0, mlp: MLP(inputWidth: inputWidth, seed: seed))
    }

    /// Builds a replica from a decoded checkpoint, under the registry's version.
    /// - Throws: ``ReplicaError/notAnMLP(path:)`` for a checkpoint of another kind.
    public init(checkpoint: Checkpoint, version: UInt64) throws(ReplicaError) {
        guard case .mlp(let mlp) = checkpoint.model else { throw .notAnMLP(path: "WEIGHTS v\(version)") }
        self.init(version: version, mlp: mlp, featureSpec: checkpoint.featureSpec)
    }

    /// Loads a checkpoint file written by `recpool fit`.
    /// - Throws: the checkpoint's typed error, naming what is wrong with the file.
    public static func load(checkpointPath path: String) throws -> ModelReplica {
        let checkpoint = try Checkpoint.read(fromFile: path)
        guard case .mlp(let mlp) = checkpoint.model else {
            throw ReplicaError.notAnMLP(path: path)
        }
        return ModelReplica(version: checkpoint.version, mlp: mlp, featureSpec: checkpoint.featureSpec)
    }

    /// Scores `rows` rows of `inputWidth` features, row-major; one probability per row.
    public func score(_ values: [Float], rows: Int) -> [Float] {
        mlp.predict(Matrix(rows: rows, cols: inputWidth, values: values))
    }
}

/// Why a replica could not be built.
public enum ReplicaError: Error, Sendable, CustomStringConvertible {
    /// The checkpoint holds another kind of model.
    case notAnMLP(path: String)

    public var description: String {
        switch self {
        case .notAnMLP(let path): "\(path) does not hold an MLP checkpoint"
        }
    }
}
