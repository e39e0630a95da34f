import RecWire

/// The role an authenticated peer holds: the ZAP `User-Id` the broker's ZAP handler assigns from
/// the allow-list its CURVE public key is on.
public enum PeerRole: String, Sendable, Hashable, CaseIterable {
    /// May score, recommend, send feedback, read status, cancel, and read the control plane.
    case client
    /// Everything a client may do, plus training and model management.
    case trainer
    /// May register on the backend and serve requests; never admitted on the frontend.
    case worker

    /// The ZAP `User-Id` the broker's ZAP handler gives a peer: `ROLE:KEY`, the role and the peer's CURVE public
    /// key in Z85, so that every message names the key it came from and a revoked key is refused per message.
    public func userId(key: String) -> String { "\(rawValue):\(key)" }

    /// The role a ZAP `User-Id` names (`ROLE:KEY`, or a bare `ROLE`); `nil` for none, a revoked key (`revoked:KEY`)
    /// or anything else.
    public init?(userId: String?) {
        guard let userId else { return nil }
        let role = userId.split(separator: ":", maxSplits: 1).first.map(String.init) ?? userId
        self.init(rawValue: role)
    }

    /// The CURVE public key (Z85) a ZAP `User-Id` of the form `ROLE:KEY` names.
    public static func key(inUserId userId: String?) -> String? {
        guard let userId, let colon = userId.firstIndex(of: ":") else { return nil }
        return String(userId[userId.index(after: colon)...])
    }

    /// The `User-Id` the reactor hands on for a message whose key the allow-lists no longer admit.
    public static func revokedUserId(key: String) -> String { "revoked:\(key)" }
}

/// Which role may send what. Pure, so the rules are tested without sockets.
public enum AccessPolicy {
    /// CONTROL operations that only read (``ControlOperation/Access/readOnly``).
    public static let readOnlyControlOps: Set<String> = names(.readOnly)
    /// CONTROL operations that change jobs or models: trainers only (``ControlOperation/Access/trainer``).
    public static let trainerControlOps: Set<String> = names(.trainer)

    private static func names(_ access: ControlOperation.Access) -> Set<String> {
        Set(ControlOperation.allCases.filter { $0.access == access }.map(\.name))
    }

    /// Whether `role` may send `command` on the frontend. CONTROL also needs ``allowsControl(_:op:)``.
    public static func allows(_ role: PeerRole?, command: Command) -> Bool {
        guard let role, role == .client || role == .trainer else { return false }
        switch command {
        case .score, .recommend, .feedback, .status, .cancel, .control: return true
        default: return false
        }
    }

    /// Whether `role` may run CONTROL operation `op` (a wire name; one this build does not know is refused).
    public static func allowsControl(_ role: PeerRole?, op: String) -> Bool {
        guard let operation = ControlOperation(rawValue: op) else { return false }
        return allowsControl(role, operation)
    }

    /// Whether `role` may run `operation`.
    public static func allowsControl(_ role: PeerRole?, _ operation: ControlOperation) -> Bool {
        switch role {
        case .client: operation.access == .readOnly
        case .trainer: true
        case .worker, nil: false
        }
    }
}
