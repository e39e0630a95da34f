import RecWire

/// A client's CONTROL request as the control plane routes it: decoded once, at the edge, into its
/// typed ``ControlOperation``, with the frames after the JSON (upload bytes, a checkpoint).
struct ControlCall {
    /// The client's routing identity.
    var identity: [UInt8]
    /// The request's header (the reply echoes it).
    var header: Header
    /// The decoded JSON document.
    var request: ControlRequest
    /// The operation `request.op` names.
    var operation: ControlOperation
    /// The message's frames after the JSON document.
    var extraFrames: ArraySlice<[UInt8]>

    /// Why a CONTROL message cannot be routed: the status and the text of the refusal.
    struct Refusal: Error {
        var status: Status
        var text: String
    }

    /// Decodes `message`'s first frame and names its operation.
    /// - Throws: a ``Refusal`` (BAD_REQUEST) naming the problem: a frame that is not a CONTROL
    ///   document, or an operation this broker does not know (`unknown CONTROL op "x"`).
    init(identity: [UInt8], message: WireMessage) throws(Refusal) {
        let request: ControlRequest
        do {
            request = try WireJSON.decodeRequest(ControlRequest.self, from: try message.frame(0))
        } catch {
            throw Refusal(status: .badRequest, text: error.description)
        }
        guard let operation = request.operation else {
            throw Refusal(status: .badRequest, text: "unknown CONTROL op \"\(request.op)\"")
        }
        self.identity = identity
        self.header = message.header
        self.request = request
        self.operation = operation
        extraFrames = message.payload.dropFirst()
    }
}
