import Crypto
import RecData
import RecModel
import RecWire

/// The model a worker serves, with the version that names it. A value: swapping replicas between
/// batches is an assignment, so a batch is always scored entirely by one version.
///
/// Version numbers are the registry's only (docs/PROTOCOL.md): a replica built from WEIGHTS carries
/// the registered version; one loaded from a file or seeded carries version 0, and a file's model
/// is known by its checkpoint's SHA-256, never by the number stored inside the file.
public struct ModelReplica: Sendable {
    /// The model version in every reply this replica produces (0: no registered version).
    public var version: UInt64
    /// The hex SHA-256 of the checkpoint bytes it was built from, or `nil` for the seeded model.
    public var checkpointSHA256: String?
    /// The seed of a seeded random model (``seeded(inputWidth:seed:)``), `nil` for a checkpoint's: with the width it
    /// names the weights, so the broker can tell two seeded models apart (`model_seed` in READY).
    public var seed: UInt64?
    /// The MLP interest model.
    public var mlp: MLP
    /// Ranks items from raw user context, when the model was trained with a feature specification.
    public var recommender: Recommender?
    /// Why the recommender scores every item although its spec has enough items for retrieval before ranking
    /// (the retrieval could not be built); nil when retrieval is in use or not needed.
    public var retrievalProblem: String?

    /// Creates a replica; `featureSpec` is the checkpoint's specification blob (empty for none).
    ///
    /// A spec of at least `retrieval.exhaustiveBelow` items gets retrieval before ranking: the retrieval model is
    /// distilled from this MLP and the index of every item built here (on the worker's build thread for a
    /// WEIGHTS install), so installing such a replica costs the index build (docs/BENCHMARKS.md, "Catalogue
    /// scale"). If that fails the recommender scores every item and ``retrievalProblem`` says why.
    public init(version: UInt64, mlp: MLP, featureSpec: [UInt8] = [], retrieval: RetrievalSettings = RetrievalSettings()) {
        self.version = version
        self.mlp = mlp
        if !featureSpec.isEmpty, let spec = try? FeatureSpec.decode(featureSpec), spec.width == mlp.inputWidth {
            let scorer: @Sendable ([Float], Int) -> [Float] = { rows, width in
                mlp.predict(Matrix(rows: rows.count / width, cols: width, values: rows))
            }
            do {
                recommender = try Recommender.withRetrieval(spec: spec, settings: retrieval, scorer: scorer)
            } catch {
                retrievalProblem = error.description
                recommender = Recommender(spec: spec, scorer: scorer)
            }
        }
    }

    /// The features per row the model expects.
    public var inputWidth: Int { mlp.inputWidth }

    /// A seeded random initialisation of the default architecture (d → d → 64 → 1), version 0.
    public static func seeded(inputWidth: Int, seed: UInt64) -> ModelReplica {
        var replica = ModelReplica(version: 0, mlp: MLP(inputWidth: inputWidth, seed: seed))
        replica.seed = seed
        return replica
    }

    /// Builds a replica from a decoded checkpoint, under the registry's version.
    /// - Parameter sha256: the hex SHA-256 of the checkpoint's bytes, as the registry names them.
    /// - Throws: ``ReplicaError/notAnMLP(path:)`` for a checkpoint of another kind.
    public init(checkpoint: Checkpoint, version: UInt64, sha256: String? = nil) throws(ReplicaError) {
        guard case .mlp(let mlp) = checkpoint.model else { throw .notAnMLP(path: "WEIGHTS v\(version)") }
        if let problem = Checkpoint.interestModelProblem(mlp) {
            throw .notInterestModel(path: "WEIGHTS v\(version)", reason: problem)
        }
        if let problem = Self.unreachableProblem(checkpoint, mlp) {
            throw .unreachable(path: "WEIGHTS v\(version)", reason: problem)
        }
        if let problem = FeatureSpec.servingProblem(checkpoint.featureSpec, inputWidth: mlp.inputWidth) {
            throw .badFeatureSpec(path: "WEIGHTS v\(version)", reason: problem)
        }
        self.init(version: version, mlp: mlp, featureSpec: checkpoint.featureSpec)
        checkpointSHA256 = sha256
    }

    /// Loads a checkpoint file written by `recpool fit`, as an unregistered model: version 0 and
    /// the SHA-256 of the file's bytes (the version number stored in the file is not used).
    /// - Throws: the checkpoint's typed error, naming what is wrong with the file; ``ReplicaError`` for a checkpoint
    ///   of another kind, that is not an interest model (one sigmoid output), or whose feature specification does not decode or fit.
    public static func load(checkpointPath path: String) throws -> ModelReplica {
        let (bytes, checkpoint) = try Checkpoint.decodeFile(path)
        guard case .mlp(let mlp) = checkpoint.model else {
            throw ReplicaError.notAnMLP(path: path)
        }
        if let problem = Checkpoint.interestModelProblem(mlp) {
            throw ReplicaError.notInterestModel(path: path, reason: problem)
        }
        // As the registry's import refuses it: a model without a feature specification wider than a SCORE row.
        if let problem = Self.unreachableProblem(checkpoint, mlp) {
            throw ReplicaError.unreachable(path: path, reason: problem)
        }
        // As for WEIGHTS: a feature specification that does not decode or does not fit the model is named, never
        // served as a model without a recommender (RECOMMEND would then say it has none).
        if let problem = FeatureSpec.servingProblem(checkpoint.featureSpec, inputWidth: mlp.inputWidth) {
            throw ReplicaError.badFeatureSpec(path: path, reason: problem)
        }
        var replica = ModelReplica(version: 0, mlp: mlp, featureSpec: checkpoint.featureSpec)
        replica.checkpointSHA256 = Self.digest(bytes)
        return replica
    }

    /// Why no request could reach `mlp`, the model of `checkpoint` (the registry's rule,
    /// `Checkpoint.servingProblem(maxScoreColumns:)`: one without a feature specification is reached only by SCORE,
    /// whose rows hold at most ``WireLimits/maxColumns`` features), or nil.
    static func unreachableProblem(_ checkpoint: Checkpoint, _ mlp: MLP) -> String? {
        guard checkpoint.featureSpec.isEmpty else { return nil }
        return MLP.unreachableWidthProblem(mlp.inputWidth, maxScoreColumns: WireLimits.standard.maxColumns)
    }

    /// The hex SHA-256 of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
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
    /// The MLP does not give one probability per row (``Checkpoint/interestModelProblem(_:)``: more than one output,
    /// or an output unit that is not a sigmoid); `reason` says which.
    case notInterestModel(path: String, reason: String)
    /// The checkpoint's feature specification does not decode or does not fit its model (`FeatureSpec.servingProblem(_:inputWidth:)`).
    case badFeatureSpec(path: String, reason: String)
    /// The model has no feature specification and is wider than a SCORE row may be (``WireLimits/maxColumns``), so no
    /// request could reach it; `reason` says so with both widths.
    case unreachable(path: String, reason: String)

    public var description: String {
        switch self {
        case .badFeatureSpec(let path, let reason): "\(path) cannot be served: \(reason)"
        case .notAnMLP(let path): "\(path) does not hold an MLP checkpoint"
        case .unreachable(let path, let reason): "\(path) cannot be served: \(reason)"
        case .notInterestModel(let path, let reason): "\(path) cannot be served by a scoring replica: \(reason)"
        }
    }
}
