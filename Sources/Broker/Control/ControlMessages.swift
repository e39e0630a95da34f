import Shared

/// What the reactor hands the control plane.
public enum ControlInput: Sendable {
    /// A CONTROL request from a client.
    case client(identity: [UInt8], message: WireMessage, userId: String?)
    /// A training message from a worker (ROUND_RESULT).
    case worker(identity: [UInt8], message: WireMessage)
    /// The live workers that can train, as the core knows them now.
    case workers([TrainingWorker])
}

/// A live worker as the control plane sees it.
public struct TrainingWorker: Sendable, Hashable {
    /// Its routing identity.
    public var identity: [UInt8]
    /// Its display id.
    public var id: String
}

/// What the control plane hands back to the reactor.
public enum ControlOutput: Sendable {
    /// Send frames to a client.
    case toClient(identity: [UInt8], frames: [[UInt8]])
    /// Send frames to a worker.
    case toWorker(identity: [UInt8], frames: [[UInt8]])
    /// Roll this version out to every scoring replica: the complete WEIGHTS message frames.
    case rollout(version: UInt64, frames: [[UInt8]])
}
