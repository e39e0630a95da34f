import RecWire

/// A moment as the broker core sees it: a monotonic clock for timers and the wall clock for
/// deadlines, which clients express in ms since the Unix epoch.
public struct BrokerInstant: Sendable, Hashable {
    /// Monotonic time in µs.
    public var monotonicMicros: UInt64
    /// Wall-clock time in ms since the Unix epoch.
    public var epochMillis: UInt64

    /// Creates an instant.
    public init(monotonicMicros: UInt64, epochMillis: UInt64) {
        self.monotonicMicros = monotonicMicros
        self.epochMillis = epochMillis
    }
}

/// Something that happened to the broker: the input of ``BrokerCore/handle(_:now:into:)``.
public enum BrokerEvent: Sendable {
    /// A message from a client on the frontend, after its routing identity: `frames` as bytes, then
    /// `held`, payload frames the reactor kept inside libzmq uncopied (a SCORE's or RECOMMEND's rows),
    /// which the core forwards as they are.
    case client(identity: [UInt8], frames: [[UInt8]], userId: String?, held: [any PayloadFrame] = [])
    /// A client request the reactor did not read past its header, because
    /// ``BrokerCore/requestToShed(headerFrame:identity:payloadBytes:userId:now:)`` said it is refused
    /// on arrival (EXPIRED or BUSY) whatever it carries; `payloadBytes` is the size of the frames
    /// after the header.
    case clientShed(identity: [UInt8], header: Header, payloadBytes: Int = 0)
    /// A client message over ``WireLimits/maxFrames`` or ``WireLimits/maxMessageBytes``, not read past
    /// its first frame: it is answered TOO_LARGE. `messageBytes` and `frameCount` count every frame
    /// after the routing identity, the header frame included.
    case clientTooLarge(identity: [UInt8], headerFrame: [UInt8], messageBytes: Int, frameCount: Int)
    /// A message from a worker on the backend, after its routing identity.
    case worker(identity: [UInt8], frames: [[UInt8]], peerAddress: String?, userId: String? = nil)
    /// Time passed: heartbeats, liveness and deadlines are checked.
    case tick
    /// The allow-lists were reloaded (SIGHUP): `workerKeys` is the backend's list now. A registered worker whose key
    /// it no longer holds is removed at once and its requests re-dispatched, instead of taking new work until it
    /// expires (its messages are already ignored).
    case workerKeysAllowed(Set<String>)
    /// A message to this worker could not be routed (`EHOSTUNREACH`): it is gone.
    case workerUnreachable(identity: [UInt8])
    /// A reply to this client could not be routed: it disconnected.
    case clientUnreachable(identity: [UInt8])
    /// The control plane promoted a version: roll it out with these WEIGHTS frames. `inputWidth` is the features per
    /// row its model takes (nil when unknown): a SCORE of another width that no live worker takes is refused at once,
    /// not held for workers that are moving to this version.
    case rollout(version: UInt64, frames: [[UInt8]], inputWidth: Int? = nil)
    /// The online policy's replicas changed: the routing identities of the workers that reported an installed
    /// policy version (POLICY_STATE `installed`), or nil when the broker runs no online learning. While it is set,
    /// RECOMMEND goes only to those workers, so a replica that has not installed the policy yet never answers from
    /// its model path (``BrokerCore/policyReplicas``).
    case policyReplicas(Set<[UInt8]>?)
    /// The control plane refused `input` (a client's CONTROL or FEEDBACK, or a held policy slate) because its inbox
    /// already holds `heldBytes` and `input` would pass `limit` (``ControlAdmission/refused(heldBytes:limit:)``): the
    /// client is answered BUSY.
    case controlBusy(ControlInput, heldBytes: Int, limit: Int)
    /// The control plane refused `input` because its client's inputs already hold `clientBytes` and `input` would
    /// pass the client's `share` of the inbox (``ControlAdmission/refusedClientShare(clientBytes:share:)``): the
    /// client is answered BUSY.
    case controlBusyClientShare(ControlInput, clientBytes: Int, share: Int)
}

/// Something the reactor must do: the output of ``BrokerCore/handle(_:now:into:)``.
public enum BrokerAction: Sendable {
    /// Send frames to a client on the frontend.
    case sendToClient(identity: [UInt8], frames: [[UInt8]])
    /// Send frames to a worker on the backend: `frames`, then the request's `payload` frames as held
    /// (forwarded without a copy when the reactor received them uncopied).
    case sendToWorker(identity: [UInt8], frames: [[UInt8]], payload: [any PayloadFrame] = [])
    /// Hand a message to the control plane (CONTROL requests, ROUND_RESULT).
    case toControl(ControlInput)
}
