/// The status of a reply (header bytes 32–33). Every request gets exactly one reply, and any status
/// other than ``ok`` comes with a UTF-8 message frame that names the problem.
public enum Status: UInt16, Sendable, Hashable, CaseIterable, Codable {
    /// The request succeeded.
    case ok = 0
    /// The request was malformed or its content invalid (wrong width, NaN, unknown command…).
    case badRequest = 1
    /// The request exceeded a size limit (frames, bytes or rows).
    case tooLarge = 2
    /// The service's queue is full; retry after the hint in `retry_after_ms`.
    case busy = 3
    /// The request's deadline passed before it could be served.
    case expired = 4
    /// The request was cancelled by its client.
    case cancelled = 5
    /// No live worker offers the service.
    case noWorker = 6
    /// The peer's authenticated role does not allow the command.
    case unauthorized = 7
    /// An unexpected failure inside RecPool.
    case `internal` = 8
    /// The protocol version in the header is not one this peer speaks.
    case unsupportedVersion = 9
    /// The named object (request, impression, job, model version) does not exist.
    case notFound = 10
    /// The request conflicts with existing state (a duplicate, or a version that cannot be met).
    case conflict = 11
    /// The worker holding the request died and the re-dispatch budget was spent.
    case workerLost = 12

    /// The name used in docs, JSON and metrics, such as `NO_WORKER`.
    public var name: String {
        switch self {
        case .ok: "OK"
        case .badRequest: "BAD_REQUEST"
        case .tooLarge: "TOO_LARGE"
        case .busy: "BUSY"
        case .expired: "EXPIRED"
        case .cancelled: "CANCELLED"
        case .noWorker: "NO_WORKER"
        case .unauthorized: "UNAUTHORIZED"
        case .internal: "INTERNAL"
        case .unsupportedVersion: "UNSUPPORTED_VERSION"
        case .notFound: "NOT_FOUND"
        case .conflict: "CONFLICT"
        case .workerLost: "WORKER_LOST"
        }
    }
}
