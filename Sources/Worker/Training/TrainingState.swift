import RecModel
import RecWire

/// Everything a replica needs to continue training bit-exactly: the MLP and Adam's moments and
/// step count. It travels between rounds as a ``RecWire/ParameterPack`` with three vectors,
/// ``paramsName``, ``firstMomentName`` and ``secondMomentName`` (each in ``MLP/flatParameters``
/// order), and Adam's `t` in ``RecWire/ParameterPack/step``. The layer sizes are not sent: they
/// follow from the job's `hidden` and the dataset's width.
public struct TrainingState: Sendable, Equatable {
    /// The pack vector holding ``MLP/flatParameters``.
    public static let paramsName = "params"
    /// The pack vector holding Adam's first moment `m`.
    public static let firstMomentName = "adam.m"
    /// The pack vector holding Adam's second moment `v`.
    public static let secondMomentName = "adam.v"

    /// The model.
    public var model: MLP
    /// Adam's moments and step count.
    public var optimizer: OptimizerState

    /// Creates a state.
    public init(model: MLP, optimizer: OptimizerState) {
        self.model = model
        self.optimizer = optimizer
    }

    /// The state round 1 starts from: exactly what `recpool fit --seed` creates, that is
    /// `MLP(inputWidth:hiddenSizes:seed:)` and a fresh Adam state.
    public static func initial(inputWidth: Int, hiddenSizes: [Int]?, seed: UInt64) -> TrainingState {
        let model = MLP(inputWidth: inputWidth, hiddenSizes: hiddenSizes, seed: seed)
        return TrainingState(
            model: model, optimizer: Optimizer.adam(AdamConfig()).makeState(parameterCount: model.parameterCount))
    }

    /// The state as a pack.
    public var pack: ParameterPack {
        ParameterPack(
            step: UInt64(optimizer.step),
            vectors: [
                .init(name: Self.paramsName, values: model.flatParameters),
                .init(name: Self.firstMomentName, values: optimizer.firstMoment),
                .init(name: Self.secondMomentName, values: optimizer.secondMoment),
            ])
    }

    /// Restores a state from a pack into an interest model of the given architecture.
    /// - Parameters:
    ///   - pack: The received pack.
    ///   - inputWidth: The dataset's feature width.
    ///   - hiddenSizes: The job's hidden widths (`nil`: the default).
    /// - Throws: ``TrainingError/badState(_:)`` when a vector is missing or has the wrong length.
    public init(pack: ParameterPack, inputWidth: Int, hiddenSizes: [Int]?) throws(TrainingError) {
        try self.init(pack: pack, template: MLP(inputWidth: inputWidth, hiddenSizes: hiddenSizes, seed: 0))
    }

    /// Restores a state from a pack into a copy of `template` (only its architecture is used).
    /// - Throws: ``TrainingError/badState(_:)`` when a vector is missing, has the wrong length or holds a value that
    ///   is not finite.
    public init(pack: ParameterPack, template: MLP) throws(TrainingError) {
        var model = template
        let n = model.parameterCount
        func vector(_ name: String) throws(TrainingError) -> [Float] {
            guard let values = pack[name] else { throw .badState("the pack has no vector \"\(name)\"") }
            guard values.count == n else {
                throw .badState(
                    "vector \"\(name)\" has \(values.count) values, the model (widths \(template.inputWidth) → "
                        + "\(template.hiddenSizes.map { "\($0)" }.joined(separator: " → ")) → \(template.outputWidth)) "
                        + "has \(n) parameters")
            }
            // A received state is the broker's average of finite states: a NaN or infinity in it is damage, said as
            // such (it was reported as "training diverged … try a lower learning rate", and a final round wrote a
            // checkpoint no reader accepts, with an AUC computed from NaN predictions).
            if let index = values.firstIndex(where: { !$0.isFinite }) {
                throw .badState("vector \"\(name)\" holds \(values[index]) at index \(index): a state is finite numbers")
            }
            return values
        }
        model.flatParameters = try vector(Self.paramsName)
        let m = try vector(Self.firstMomentName)
        let v = try vector(Self.secondMomentName)
        guard pack.step <= ParameterPack.maximumStep else { throw .badState("step \(pack.step) is out of range") }
        self.init(model: model, optimizer: OptimizerState(step: Int(pack.step), firstMoment: m, secondMoment: v))
    }

    /// The number of parameters of the model `[inputWidth] + hidden + [outputWidth]`, or `nil` on overflow.
    /// Lets the executor refuse an absurd architecture before allocating it.
    public static func parameterCount(inputWidth: Int, hiddenSizes: [Int]?, outputWidth: Int = 1) -> Int? {
        MLP.parameterCount(inputWidth: inputWidth, hiddenSizes: hiddenSizes, outputWidth: outputWidth)
    }
}
