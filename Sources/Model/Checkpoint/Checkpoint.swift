/// The model a checkpoint holds.
public enum CheckpointModel: Sendable, Equatable {
    /// The interest model (or any MLP).
    case mlp(MLP)
    /// A trained Q-function.
    case dqn(DQNModel)

    /// The underlying network.
    public var network: MLP {
        switch self {
        case .mlp(let m): m
        case .dqn(let d): d.network.network
        }
    }
}

/// One model file: the model, its version, the data layer's feature specification and free
/// metadata, in the versioned, checksummed binary format described in docs/MODELS.md.
///
/// `encoded()` followed by `init(decoding:)` is bit-exact for finite weights; a weight that is not finite is refused
/// by `init(decoding:)` and by `write(toFile:)`.
public struct Checkpoint: Sendable, Equatable {
    /// The file's magic, `RECPOOLM`.
    public static let magic: [UInt8] = Array("RECPOOLM".utf8)
    /// The format version this build writes and reads.
    public static let formatVersion: UInt32 = 1

    /// The model version recorded in the file (replies carry it; `fit` writes 1 unless told).
    public var version: UInt64
    /// The model.
    public var model: CheckpointModel
    /// The feature specification, an opaque blob (JSON) written by the data layer; `[]` when none.
    public var featureSpec: [UInt8]
    /// Free-form string metadata (written sorted by key).
    public var metadata: [String: String]

    /// Creates a checkpoint.
    public init(version: UInt64 = 1, model: CheckpointModel, featureSpec: [UInt8] = [], metadata: [String: String] = [:]) {
        self.version = version
        self.model = model
        self.featureSpec = featureSpec
        self.metadata = metadata
    }
}
