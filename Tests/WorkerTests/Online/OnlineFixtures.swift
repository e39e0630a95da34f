import Synchronization
import Logging
import Testing
import RecData
import RecModel
import RecPolicy
import RecTransport
import RecWire

@testable import Worker

/// The default simulator world's catalogue, updating the posterior every `updateEvery` events.
func onlineSpec(updateEvery: Int = 4) -> OnlinePolicySpec {
    SimulatorCatalog.spec(
        world: SimulatorWorld(config: SimulatorConfig()), learning: OnlineLearningSpec(updateEvery: updateEvery))
}

/// The payload of a POLICY message for `spec` at `version` with the untrained weights (or `pack`).
func policyPayload(
    spec: OnlinePolicySpec, version: UInt64, learningEnabled: Bool = true, pack: ParameterPack? = nil
) throws -> [[UInt8]] {
    let weights = try pack ?? PolicyWeights.pack(OnlinePolicy.initial(spec: spec))
    var install = PolicyInstall(version: version, spec: spec, learningEnabled: learningEnabled)
    install.weightsSha256 = PolicyWeights.sha256(of: weights.encoded())
    return [WireJSON.encode(install), weights.encoded()]
}

/// A user of the catalogue: one category per feature.
func onlineUser(_ n: Int, spec: OnlinePolicySpec) -> [String: String] {
    var features: [String: String] = [:]
    for feature in spec.userFeatures {
        features[feature.name] = feature.values[n % feature.values.count]
    }
    return features
}

/// `count` feedback events on varied users and items, every third a click.
func learnEvents(_ count: Int, spec: OnlinePolicySpec, version: UInt64 = 1) -> [LearnEvent] {
    (0..<count).map { n in
        LearnEvent(
            impressionId: "test-\(n / 3)", userFeatures: onlineUser(n, spec: spec), item: n % spec.itemCount,
            reward: n % 3 == 0 ? 1 : 0, propensity: 0.5, version: version)
    }
}

/// An online learner that runs only when a test calls `perform`; what it logs goes to `logs` when given.
func manualOnlineLearning(logs: CapturedLogs? = nil) -> OnlineLearning {
    let logger = logs.map { logs in Logger(label: "test") { _ in CapturedLogs.Handler(logs: logs) } } ?? Logger(label: "test")
    return OnlineLearning(
        sessionWakeup: WakeupSignal(), seed: 11, logger: logger, metrics: WorkerMetrics(), startThread: false)
}

/// The lines a logger wrote (level and message), for tests that assert what was logged.
final class CapturedLogs: Sendable {
    private let lines = Mutex<[(level: Logger.Level, message: String)]>([])

    /// Every line so far, oldest first.
    var all: [(level: Logger.Level, message: String)] { lines.withLock { $0 } }

    /// A handler that appends to a ``CapturedLogs``.
    struct Handler: LogHandler {
        let logs: CapturedLogs
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(
            level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
            function: String, line: UInt
        ) {
            logs.lines.withLock { $0.append((level, message.description)) }
        }
    }
}

/// The decoded header and documents of a POLICY_STATE message; a delta in frame 2 is applied to `base` (the
/// replica's installed statistics) to give the whole pack.
func decodePolicyState(_ frames: [[UInt8]], base: InstalledBase? = nil) throws -> (Header, PolicyStateReport, ParameterPack?) {
    let header = try Header(decoding: frames[0])
    let report = try WireJSON.decode(PolicyStateReport.self, from: frames[1])
    let pack = frames.count > 2 ? try wholePack(frames[2], base: base) : nil
    return (header, report, pack)
}

/// The whole statistics a POLICY_STATE frame 2 stands for: a pack as is, a delta applied to `base`.
func wholePack(_ bytes: [UInt8], base: InstalledBase?) throws -> ParameterPack {
    guard PolicyPackDelta.isDelta(bytes) else { return try ParameterPack(decoding: bytes) }
    let base = try #require(base, "a delta needs the installed base")
    return try PolicyPackDelta(decoding: bytes).apply(to: base.pack, version: base.version, sha256: base.sha256)
}
