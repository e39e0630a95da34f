import CZMQ
import RecWire

#if canImport(Glibc)
    import Glibc
#endif

/// The only code in RecPool that calls libzmq.
///
/// Each C function is wrapped once, in the manner of swift-system's syscall adapters: the wrapper
/// reads `zmq_errno()` right after the call, retries `EINTR`, turns `EAGAIN` into a value and throws
/// a typed ``ZMQError`` for everything else.
enum LibZMQ {
    static let etermCode: Int32 = ETERM
    static let enocompatprotoCode: Int32 = ENOCOMPATPROTO

    static func describe(_ code: Int32) -> String {
        guard let text = zmq_strerror(code) else { return "unknown error" }
        return String(cString: text)
    }

    static func version() -> (major: Int32, minor: Int32, patch: Int32) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (major, minor, patch)
    }

    static func has(_ capability: String) -> Bool { zmq_has(capability) == 1 }

    private static func fail(_ operation: String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation)
    }

    // MARK: Context

    static func newContext() -> UnsafeMutableRawPointer {
        guard let context = zmq_ctx_new() else {
            preconditionFailure("zmq_ctx_new failed: \(describe(zmq_errno()))")
        }
        return context
    }

    static func shutdownContext(_ context: UnsafeMutableRawPointer) {
        _ = zmq_ctx_shutdown(context)
    }

    static func terminateContext(_ context: UnsafeMutableRawPointer) {
        while zmq_ctx_term(context) != 0 && zmq_errno() == EINTR {}
    }

    // MARK: Socket lifecycle

    static func socket(_ context: UnsafeMutableRawPointer, _ type: ZMQSocketType) throws(ZMQError)
        -> UnsafeMutableRawPointer
    {
        let raw: Int32
        switch type {
        case .router: raw = ZMQ_ROUTER
        case .dealer: raw = ZMQ_DEALER
        case .pair: raw = ZMQ_PAIR
        }
        guard let socket = zmq_socket(context, raw) else { throw fail("zmq_socket") }
        return socket
    }

    static func close(_ socket: UnsafeMutableRawPointer) {
        _ = zmq_close(socket)
    }

    static func bind(_ socket: UnsafeMutableRawPointer, _ endpoint: String) throws(ZMQError) {
        if zmq_bind(socket, endpoint) != 0 { throw fail("zmq_bind(\(endpoint))") }
    }

    static func connect(_ socket: UnsafeMutableRawPointer, _ endpoint: String) throws(ZMQError) {
        if zmq_connect(socket, endpoint) != 0 { throw fail("zmq_connect(\(endpoint))") }
    }

    static func lastEndpoint(_ socket: UnsafeMutableRawPointer) throws(ZMQError) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        var size = buffer.count
        if zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, &buffer, &size) != 0 {
            throw fail("zmq_getsockopt(LAST_ENDPOINT)")
        }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Starts publishing `events` (a `ZMQ_EVENT_*` mask) of `socket` on a PAIR socket bound at the
    /// `inproc://` endpoint `monitorEndpoint` (`zmq_socket_monitor`).
    static func monitor(_ socket: UnsafeMutableRawPointer, _ monitorEndpoint: String, events: Int32) throws(ZMQError) {
        if zmq_socket_monitor(socket, monitorEndpoint, events) != 0 { throw fail("zmq_socket_monitor") }
    }

    // MARK: Options

    static func setOption(_ socket: UnsafeMutableRawPointer, _ option: SocketOption) throws(ZMQError) {
        let status: Int32
        switch option {
        case .bytes(let name, let bytes):
            status = bytes.withUnsafeBytes { zmq_setsockopt(socket, name.raw, $0.baseAddress, $0.count) }
        case .int(let name, var value):
            status = zmq_setsockopt(socket, name.raw, &value, MemoryLayout<Int32>.size)
        case .int64(let name, var value):
            status = zmq_setsockopt(socket, name.raw, &value, MemoryLayout<Int64>.size)
        }
        if status != 0 { throw fail("zmq_setsockopt(\(option.name))") }
    }

    static func getIntOption(_ socket: UnsafeMutableRawPointer, _ name: SocketOption.Name) throws(ZMQError) -> Int32 {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if zmq_getsockopt(socket, name.raw, &value, &size) != 0 { throw fail("zmq_getsockopt(\(name))") }
        return value
    }

    // MARK: Messages

    /// Sends one frame. Returns `false` when the call would block (`EAGAIN` with `ZMQ_DONTWAIT`).
    static func sendFrame(_ socket: UnsafeMutableRawPointer, _ frame: [UInt8], more: Bool, dontWait: Bool)
        throws(ZMQError) -> Bool
    {
        var flags: Int32 = 0
        if more { flags |= ZMQ_SNDMORE }
        if dontWait { flags |= ZMQ_DONTWAIT }
        while true {
            let sent = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
            if sent >= 0 { return true }
            let code = zmq_errno()
            if code == EINTR { continue }
            if code == EAGAIN { return false }
            throw ZMQError(code: code, operation: "zmq_send")
        }
    }

    /// The most frames of one message kept for the decision; frames beyond are counted and
    /// released at once (no RecPool message has more than a handful).
    static let maxHeldFrames = 16

    /// Receives one whole multipart message through `zmq_msg_t`, so frames of any size arrive intact.
    /// Returns `nil` when nothing is waiting and `dontWait` is set.
    ///
    /// A multipart message is delivered atomically, so every frame is received first, uncopied;
    /// then `keepRest` sees the first `peekFrames` frames (at least 1) together with the whole
    /// message's ``ZMQMessage/byteCount`` and ``ZMQMessage/frameCount``. When more frames follow
    /// the peeked ones and it returns `false`, they are closed without being copied: refusing a
    /// request, or one too large, costs no copy of its payload.
    static func receiveMessage(
        _ socket: UnsafeMutableRawPointer, dontWait: Bool, wantMetadata: Bool, peekFrames: Int,
        rest: (ZMQMessage) -> ZMQRestFrames
    ) throws(ZMQError) -> ZMQMessage? {
        // On the stack: a heap block per call (and per empty poll of a socket) showed in the broker's profile.
        try withUnsafeTemporaryAllocation(of: zmq_msg_t.self, capacity: maxHeldFrames) { buffer throws(ZMQError) in
            try receiveMessage(
                socket, into: buffer.baseAddress!, dontWait: dontWait, wantMetadata: wantMetadata,
                peekFrames: peekFrames, rest: rest)
        }
    }

    /// ``receiveMessage(_:dontWait:wantMetadata:peekFrames:rest:)`` with room for ``maxHeldFrames`` messages at `held`.
    private static func receiveMessage(
        _ socket: UnsafeMutableRawPointer, into held: UnsafeMutablePointer<zmq_msg_t>, dontWait: Bool,
        wantMetadata: Bool, peekFrames: Int, rest: (ZMQMessage) -> ZMQRestFrames
    ) throws(ZMQError) -> ZMQMessage? {
        var heldCount = 0
        defer {
            for index in 0..<heldCount { zmq_msg_close(held + index) }
        }
        var userId: String?
        var peerAddress: String?
        var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
        var frameCount = 0
        var byteCount = 0
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            let received = zmq_msg_recv(&message, socket, flags)
            if received < 0 {
                let code = zmq_errno()
                zmq_msg_close(&message)
                if code == EINTR { continue }
                if code == EAGAIN && frameCount == 0 { return nil }
                throw ZMQError(code: code, operation: "zmq_msg_recv")
            }
            frameCount += 1
            byteCount = byteCount.addingSaturating(zmq_msg_size(&message))
            // A ROUTER's identity frame carries no metadata; the peer's own frames do.
            if wantMetadata && userId == nil && peerAddress == nil {
                if let text = zmq_msg_gets(&message, "User-Id") { userId = String(cString: text) }
                if let text = zmq_msg_gets(&message, "Peer-Address") { peerAddress = String(cString: text) }
            }
            let more = zmq_msg_more(&message) != 0
            if heldCount < maxHeldFrames {
                // Moved bitwise into place: the `zmq_msg_t` is only ever used from its new address.
                (held + heldCount).initialize(to: message)
                heldCount += 1
            } else {
                zmq_msg_close(&message)
            }
            if !more { break }
            // The rest of a multipart message is already here; never block waiting for it.
            flags = 0
        }
        func copy(_ index: Int) -> [UInt8] {
            let size = zmq_msg_size(held + index)
            guard size > 0, let data = zmq_msg_data(held + index) else { return [] }
            return Array(UnsafeRawBufferPointer(start: data, count: size))
        }
        let peek = max(1, peekFrames)
        // Sized for every frame kept: the copied rest is appended without growing the array again.
        var frames: [[UInt8]] = []
        frames.reserveCapacity(heldCount)
        for index in 0..<min(peek, heldCount) { frames.append(copy(index)) }
        var disposition = ZMQRestFrames.copy
        if frameCount > peek {
            disposition = rest(
                ZMQMessage(
                    frames: frames, userId: userId, peerAddress: peerAddress, byteCount: byteCount,
                    frameCount: frameCount))
        }
        var kept: [ZMQFrame] = []
        switch disposition {
        case .discard: break
        case .copy: for index in frames.count..<heldCount { frames.append(copy(index)) }
        case .hold:
            kept.reserveCapacity(heldCount - frames.count)
            for index in frames.count..<heldCount {
                let owned = newMessage()
                zmq_msg_move(owned.assumingMemoryBound(to: zmq_msg_t.self), held + index)
                kept.append(ZMQFrame(taking: owned))
            }
        }
        return ZMQMessage(
            frames: frames, held: kept, userId: userId, peerAddress: peerAddress,
            discardedFrames: frameCount - frames.count - kept.count, byteCount: byteCount, frameCount: frameCount)
    }

    /// A fresh, empty `zmq_msg_t` on the heap, for a ``ZMQFrame`` to own.
    static func newMessage() -> UnsafeMutableRawPointer {
        let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        zmq_msg_init(message)
        return UnsafeMutableRawPointer(message)
    }

    /// Closes and frees a message from ``newMessage()``.
    static func freeMessage(_ message: UnsafeMutableRawPointer) {
        let typed = message.assumingMemoryBound(to: zmq_msg_t.self)
        zmq_msg_close(typed)
        typed.deallocate()
    }

    static func messageSize(_ message: UnsafeMutableRawPointer) -> Int {
        zmq_msg_size(message.assumingMemoryBound(to: zmq_msg_t.self))
    }

    static func messageData(_ message: UnsafeMutableRawPointer) -> UnsafeRawPointer? {
        zmq_msg_data(message.assumingMemoryBound(to: zmq_msg_t.self)).map { UnsafeRawPointer($0) }
    }

    /// Sends a held frame without copying its bytes: a `zmq_msg_copy` of it (a reference to the same
    /// buffer) goes to `zmq_msg_send`, which takes that copy over. The frame stays valid and sendable.
    /// Returns `false` when the call would block (`EAGAIN` with `ZMQ_DONTWAIT`).
    static func sendHeld(_ socket: UnsafeMutableRawPointer, _ frame: ZMQFrame, more: Bool, dontWait: Bool)
        throws(ZMQError) -> Bool
    {
        var flags: Int32 = 0
        if more { flags |= ZMQ_SNDMORE }
        if dontWait { flags |= ZMQ_DONTWAIT }
        let source = frame.message.assumingMemoryBound(to: zmq_msg_t.self)
        while true {
            var outgoing = zmq_msg_t()
            zmq_msg_init(&outgoing)
            if zmq_msg_copy(&outgoing, source) != 0 {
                let code = zmq_errno()
                zmq_msg_close(&outgoing)
                throw ZMQError(code: code, operation: "zmq_msg_copy")
            }
            if zmq_msg_send(&outgoing, socket, flags) >= 0 { return true }
            let code = zmq_errno()
            zmq_msg_close(&outgoing)
            if code == EINTR { continue }
            if code == EAGAIN { return false }
            throw ZMQError(code: code, operation: "zmq_msg_send")
        }
    }

    // MARK: Polling

    static func poll(_ items: inout [PollItem], timeoutMilliseconds: Int) throws(ZMQError) -> Int {
        var raw = items.map { item -> zmq_pollitem_t in
            zmq_pollitem_t(socket: item.socket, fd: item.fd, events: item.events.rawValue, revents: 0)
        }
        while true {
            let ready = raw.withUnsafeMutableBufferPointer {
                zmq_poll($0.baseAddress, Int32($0.count), timeoutMilliseconds)
            }
            if ready < 0 {
                let code = zmq_errno()
                if code == EINTR { continue }
                throw ZMQError(code: code, operation: "zmq_poll")
            }
            for index in items.indices { items[index].returned = ZMQPollEvents(rawValue: raw[index].revents) }
            return Int(ready)
        }
    }

    // MARK: CURVE

    static func curveKeyPair() throws(ZMQError) -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        if zmq_curve_keypair(&publicKey, &secretKey) != 0 { throw fail("zmq_curve_keypair") }
        func text(_ chars: [CChar]) -> String {
            String(decoding: chars.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return CurveKeyPair(publicKey: text(publicKey), secretKey: text(secretKey))
    }

    /// Z85-encodes `bytes` (`zmq_z85_encode`); `nil` unless the length is a multiple of 4.
    static func z85Encode(_ bytes: [UInt8]) -> String? {
        guard !bytes.isEmpty, bytes.count % 4 == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        let ok = bytes.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress, $0.count) }
        guard ok != nil else { return nil }
        return String(decoding: text.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func curvePublicKey(fromSecret secret: String) throws(ZMQError) -> String {
        var publicKey = [CChar](repeating: 0, count: 41)
        if zmq_curve_public(&publicKey, secret) != 0 { throw fail("zmq_curve_public") }
        return String(decoding: publicKey.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension SocketOption.Name {
    var raw: Int32 {
        switch self {
        case .linger: ZMQ_LINGER
        case .routerMandatory: ZMQ_ROUTER_MANDATORY
        case .routingId: ZMQ_ROUTING_ID
        case .sendHighWaterMark: ZMQ_SNDHWM
        case .receiveHighWaterMark: ZMQ_RCVHWM
        case .maxMessageSize: ZMQ_MAXMSGSIZE
        case .reconnectInterval: ZMQ_RECONNECT_IVL
        case .reconnectIntervalMax: ZMQ_RECONNECT_IVL_MAX
        case .immediate: ZMQ_IMMEDIATE
        case .curveServer: ZMQ_CURVE_SERVER
        case .curvePublicKey: ZMQ_CURVE_PUBLICKEY
        case .curveSecretKey: ZMQ_CURVE_SECRETKEY
        case .curveServerKey: ZMQ_CURVE_SERVERKEY
        case .zapDomain: ZMQ_ZAP_DOMAIN
        case .mechanism: ZMQ_MECHANISM
        case .handshakeInterval: ZMQ_HANDSHAKE_IVL
        case .ipv6: ZMQ_IPV6
        }
    }
}

extension PollItem {
    /// `ZMQ_CURVE` as `ZMQ_MECHANISM` reports it.
    static let curveMechanism: Int32 = ZMQ_CURVE
}
