import Foundation

/// An online policy version and the SHA-256 (hex) of its whole statistics pack (the POLICY's `weights_sha256`).
public struct PolicyVersionReference: Codable, Sendable, Hashable {
    /// The policy version.
    public var version: UInt64
    /// SHA-256 of the version's statistics pack, lower-case hex.
    public var weightsSha256: String

    /// Creates a reference.
    public init(version: UInt64, weightsSha256: String) {
        self.version = version
        self.weightsSha256 = weightsSha256
    }
}

/// Encodes and decodes the CANCEL payload: the id of the request to cancel, as u64 LE.
public enum CancelPayload {
    /// Encodes the target id.
    public static func encode(_ target: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: 8)
        writer.append(target)
        return writer.bytes
    }

    /// Decodes the target id.
    public static func decode(_ frame: [UInt8]) throws(WireError) -> UInt64 {
        guard frame.count == 8 else { throw .badPayloadLength(expected: 8, got: frame.count) }
        var reader = ByteReader(frame)
        return reader.read()
    }
}

/// The endpoints a broker actually bound (wildcard ports resolved). `recpool-broker` prints this as
/// one JSON line on stdout once it listens, so parent processes and tests can find it.
public struct BrokerEndpoints: Sendable, Hashable, Codable {
    /// Where clients connect.
    public var frontend: String
    /// Where workers connect.
    public var backend: String

    /// Creates endpoints.
    public init(frontend: String, backend: String) {
        self.frontend = frontend
        self.backend = backend
    }
}

/// A decoded document that can say why it cannot be used although it decoded: its values out of range, its parts
/// inconsistent. A reader of stored state refuses such a document as damaged (the broker's `StoredJSON.decodeValid`)
/// instead of acting on it.
public protocol DocumentProblem {
    /// Why the document cannot be used, or `nil` when it can.
    var problem: String? { get }
}

extension ImpressionRecord: DocumentProblem {}
