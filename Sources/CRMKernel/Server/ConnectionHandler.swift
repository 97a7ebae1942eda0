import CRMRPCContract
import CRMWire
import Dispatch
import Logging
import NIOCore
import NIOPosix

/// One client connection: checks the preface, cuts frames, dispatches calls
/// and writes their answers. Everything here runs on the connection's event
/// loop; plugin handlers are handed to `PluginDispatcher`'s workers and their
/// results come back with `eventLoop.execute`.
final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum InFlight {
        case plugin(PluginCall, deadline: Scheduled<Void>?)
        case healthWatch(service: String, deadline: Scheduled<Void>?)
        case events(EventStream, deadline: Scheduled<Void>?)
    }

    let shared: ServerShared
    static let allocator = ByteBufferAllocator()
    var limits: KernelConfig.Limits { shared.config.limits }
    var logger: Logger { shared.logger }

    /// Dropped in handlerRemoved: the context holds this handler, so keeping
    /// it would make a cycle that leaks every closed connection and its buffers.
    var context: ChannelHandlerContext!
    /// The connection's loop, kept past handlerRemoved for late results.
    private(set) var eventLoop: EventLoop!
    var prefaceDone = false
    /// A write inside channelRead can fail, and NIO then reads what is left
    /// of the socket at once, re-entering channelRead: the outer call parses.
    private var reading = false
    var inbound: ByteBuffer?
    var parser: FrameParser
    var inFlight: [UInt64: InFlight] = [:]
    var goingAway = false
    var closed = false
    var needsFlush = false
    /// Frames written since the last flush, sent as one buffer.
    var pendingOut: ByteBuffer?
    var peer: PeerCredentials?
    /// The Access snapshot this connection last used (ConnectionHandler+Access).
    var accessSnapshot: AccessSnapshot?
    /// Handler results waiting for this loop (see ConnectionHandler+Completions.swift).
    let completions = CompletionQueue()

    // Timers (see ConnectionHandler+Timers.swift).
    var lastReadNanos: NIODeadline = .now()
    var lastAnswerNanos: NIODeadline = .now()
    var partialSince: NIODeadline?
    var timer: Scheduled<Void>?

    init(shared: ServerShared) {
        self.shared = shared
        parser = FrameParser(maxPayloadBytes: shared.config.limits.maxMessageBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        eventLoop = context.eventLoop
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closed = true
        self.context = nil
        inbound = nil
        pendingOut = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = Self.peerCredentials(of: context.channel)
        shared.connections.add(self, on: context.eventLoop)
        partialSince = .now()  // the preface is due within the read timeout
        armTimer()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        timer?.cancel()
        for (_, call) in inFlight {
            switch call {
            case .plugin(let c, let d): c.cancel(); d?.cancel()
            case .healthWatch(_, let d): d?.cancel()
            case .events(let stream, let d): stream.cancel(); d?.cancel()
            }
        }
        inFlight.removeAll()
        inbound = nil
        pendingOut = nil
        shared.connections.remove(self)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // What a closing connection still receives is never answered.
        guard !closed else { return }
        var bytes = unwrapInboundIn(data)
        lastReadNanos = .now()
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound!.writeBuffer(&bytes)
        }
        guard !reading else { return }
        reading = true
        defer { reading = false }
        if !prefaceDone && !readPreface() { return }
        var framesCompleted = false
        do {
            while !closed, inbound != nil, let event = try parser.next(&inbound!) {
                framesCompleted = true
                switch event {
                case .frame(let header, let payload): handleFrame(header, payload)
                case .oversize(let header, let length):
                    guard header.kind == .request else { throw FrameParser.ProtocolError(description: "oversize \(header.kind) frame") }
                    handleOversizeRequest(header, length: length)
                }
            }
        } catch {
            protocolError("\(error)")
            return
        }
        guard !closed, inbound != nil else {
            inbound = nil
            return
        }
        // The read timeout measures how long one frame stays incomplete, so
        // it restarts whenever a frame completes (steady pipelining is fine).
        if parser.isMidFrame(inbound!) {
            let wasWaiting = partialSince != nil
            if !wasWaiting || framesCompleted { partialSince = .now() }
            // The pending timer may be set for the idle limit, far later.
            if !wasWaiting { armTimer() }
        } else {
            partialSince = nil
        }
        if inbound!.readableBytes == 0 {
            inbound = nil
        } else if inbound!.readerIndex > 64 * 1024 {
            inbound!.discardReadBytes()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: preface

    private func readPreface() -> Bool {
        guard inbound!.readableBytes >= Preface.length else { return false }
        let bytes = inbound!.readBytes(length: Preface.length)!
        guard let (version, _) = Preface.parse(bytes) else {
            rejectPreface(.invalidArgument, "not a crm RPC client (bad preface)")
            return false
        }
        guard version == Preface.version else {
            rejectPreface(.unimplemented, "protocol version \(version) is not supported; this server speaks \(Preface.version)")
            return false
        }
        prefaceDone = true
        partialSince = nil
        writeRaw(Preface.serverBytes(status: .ok))
        needsFlush = true
        return true
    }

    private func rejectPreface(_ status: Crm_Rpc_V1_StatusCode, _ reason: String) {
        logger.info("connection refused", metadata: ["reason": "\(reason)"])
        writeRaw(Preface.serverBytes(status: status))
        closeNow()
    }

    // MARK: frames

    private func handleFrame(_ header: Crm_Rpc_V1_FrameHeader, _ payload: ByteBuffer) {
        switch header.kind {
        case .request: handleRequest(header, payload)
        case .cancel: handleCancel(header.callID)
        case .ping:
            var pong = Crm_Rpc_V1_FrameHeader()
            pong.kind = .pong
            write(pong, payload: payload)
        case .pong: break
        default: protocolError("a client may not send \(header.kind) frames")
        }
    }

    /// The checks every REQUEST passes before anything else, oversize or not:
    /// false when the request has been answered or the connection closed.
    private func admitRequest(_ header: Crm_Rpc_V1_FrameHeader) -> Bool {
        let id = header.callID
        guard id != 0 else { protocolError("REQUEST with call_id 0"); return false }
        guard inFlight[id] == nil else { protocolError("call_id \(id) is already in flight"); return false }
        if goingAway { answerRequestError(header, .unavailable, "server is shutting down"); return false }
        return true
    }

    func handleOversizeRequest(_ header: Crm_Rpc_V1_FrameHeader, length: Int) {
        guard admitRequest(header) else { return }
        answerRequestError(header, .resourceExhausted,
                           "message of \(length) bytes is over the \(limits.maxMessageBytes)-byte limit")
    }

    private func handleRequest(_ header: Crm_Rpc_V1_FrameHeader, _ payload: ByteBuffer) {
        let id = header.callID
        guard admitRequest(header) else { return }
        guard inFlight.count < limits.maxInFlightPerConnection else {
            return answerRequestError(header, .resourceExhausted,
                                      "more than \(limits.maxInFlightPerConnection) calls in flight on this connection")
        }
        guard let route = shared.router.route(header.method) else {
            return answerRequestError(header, .unimplemented, "unknown method \(header.method)")
        }
        guard let principal = authorize(header, route) else { return }
        switch route {
        case .kernel(let method):
            if method.fullName == EventStream.methodName {
                startEventStream(header, payload, principal: principal, permission: route.semantics.permission,
                                 deadline: scheduleDeadline(id, Self.effectiveTimeout(header.timeoutUs)))
            } else if let blocking = method.blocking {
                runKernelBlocking(blocking, method, id, payload)
            } else if method.serverStreaming {
                startHealthWatch(id, payload, deadline: scheduleDeadline(id, Self.effectiveTimeout(header.timeoutUs)))
            } else {
                runKernelUnary(method, id, payload)
            }
        case .plugin(let method):
            let timeout = Self.effectiveTimeout(header.timeoutUs)
            let deadlineMicros = timeout == 0 ? 0 : Clock.unixMicros() + timeout
            let call = PluginCall(method: method, caller: peer, deadlineUnixMicros: deadlineMicros,
                                  metadata: Self.pluginMetadata(header), principal: principal)
            inFlight[id] = .plugin(call, deadline: scheduleDeadline(id, timeout))
            shared.dispatcher.run(call, id: id, payload: payload, on: self)
        }
    }

    /// Timeouts beyond ten years mean "no deadline" (and cannot overflow a clock).
    static func effectiveTimeout(_ micros: UInt64) -> UInt64 {
        micros >= 10 * 365 * 86_400 * 1_000_000 ? 0 : micros
    }

    func scheduleDeadline(_ id: UInt64, _ micros: UInt64) -> Scheduled<Void>? {
        guard micros > 0 else { return nil }
        return context.eventLoop.scheduleTask(in: .microseconds(Int64(micros))) { [self] in
            finishEarly(id, .deadlineExceeded, "deadline of \(micros) µs exceeded")
        }
    }

    private func runKernelUnary(_ method: KernelMethod, _ id: UInt64, _ payload: ByteBuffer) {
        do {
            let response = try method.unary!(payload)
            writeResponse(id, .ok, "", payload: response)
        } catch let error as RPCError {
            writeResponse(id, error.code, error.message, payload: [])
        } catch {
            logger.error("kernel method failed", metadata: ["method": "\(method.fullName)", "error": "\(error)"])
            writeResponse(id, .internal, "internal error", payload: [])
        }
    }

    /// Runs a slow kernel method on a global queue; answers on this loop.
    private func runKernelBlocking(_ body: @escaping @Sendable (ByteBuffer, PeerCredentials?) throws -> [UInt8],
                                   _ method: KernelMethod, _ id: UInt64, _ payload: ByteBuffer) {
        let loop = context.eventLoop
        let box = UnsafeTransfer(self)
        let caller = peer
        let name = method.fullName
        DispatchQueue.global().async {
            let result = Result { try body(payload, caller) }
            loop.execute {
                let handler = box.value
                switch result {
                case .success(let response): handler.writeResponse(id, .ok, "", payload: response)
                case .failure(let error as RPCError): handler.writeResponse(id, error.code, error.message, payload: [])
                case .failure(let error):
                    handler.logger.error("kernel method failed", metadata: ["method": "\(name)", "error": "\(error)"])
                    handler.writeResponse(id, .internal, "internal error", payload: [])
                }
                handler.flushIfNeeded()
            }
        }
    }

    private func handleCancel(_ id: UInt64) {
        finishEarly(id, .cancelled, "cancelled by the client")
    }

    /// Ends a call before its handler has finished (cancel, deadline, shutdown).
    func finishEarly(_ id: UInt64, _ status: Crm_Rpc_V1_StatusCode, _ message: String) {
        guard let call = inFlight.removeValue(forKey: id) else { return }
        switch call {
        case .plugin(let c, let deadline):
            c.cancel()
            deadline?.cancel()
        case .healthWatch(_, let deadline):
            deadline?.cancel()
        case .events(let stream, let deadline):
            stream.cancel()
            deadline?.cancel()
        }
        writeResponse(id, status, message, payload: [])
        flushIfNeeded()
        closeIfDrained()
    }

    private func answerRequestError(_ header: Crm_Rpc_V1_FrameHeader, _ status: Crm_Rpc_V1_StatusCode, _ message: String) {
        writeResponse(header.callID, status, message, payload: [])
    }

    // MARK: writing

    func writeResponse(_ id: UInt64, _ status: Crm_Rpc_V1_StatusCode, _ message: String, payload: [UInt8]) {
        lastAnswerNanos = .now()
        appendOut { out in
            payload.withUnsafeBytes {
                HeaderCodec.writeFrame(into: &out, callID: id, kind: .response, status: status.rawValue,
                                       message: message, payload: $0)
            }
        }
    }

    func write(_ header: Crm_Rpc_V1_FrameHeader, payload: ByteBuffer?) {
        appendOut { FrameEncoder.write(header, payload: payload, into: &$0) }
    }

    private func appendOut(_ body: (inout ByteBuffer) -> Void) {
        // Late results (a handler finishing after the peer left) are dropped.
        guard !closed else { return }
        if pendingOut == nil { pendingOut = Self.allocator.buffer(capacity: 512) }
        body(&pendingOut!)
        needsFlush = true
    }

    /// Writes one MESSAGE of a plugin's server stream, unless the call has
    /// already ended; the future completes when the socket took the bytes.
    func writeStreamFrame(_ frame: ByteBuffer, id: UInt64, call: PluginCall) -> EventLoopFuture<Void> {
        guard case .plugin(let current, _)? = inFlight[id], current === call, !closed else {
            return eventLoop.makeFailedFuture(RPCError(.cancelled, "call ended"))
        }
        flushIfNeeded()  // keeps frames in order
        return context.writeAndFlush(wrapOutboundOut(frame))
    }

    private func writeRaw(_ bytes: [UInt8]) {
        appendOut { $0.writeBytes(bytes) }
    }

    func flushIfNeeded() {
        guard needsFlush, !closed else { return }
        needsFlush = false
        if let out = pendingOut {
            pendingOut = nil
            context.write(wrapOutboundOut(out), promise: nil)
        }
        context.flush()
    }

    // MARK: ending

    func sendGoAway(_ status: Crm_Rpc_V1_StatusCode, _ message: String) {
        var header = Crm_Rpc_V1_FrameHeader()
        header.kind = .goaway
        header.status = status
        header.statusMessage = message
        write(header, payload: nil)
        flushIfNeeded()
    }

    func protocolError(_ message: String) {
        logger.info("protocol error; closing connection", metadata: ["reason": "\(message)"])
        sendGoAway(.invalidArgument, "protocol error: \(message)")
        closeNow()
    }

    func closeNow() {
        guard !closed else { return }
        flushIfNeeded()
        closed = true
        context.close(promise: nil)
    }

    /// After GOAWAY, the connection closes once its last call is answered.
    func closeIfDrained() {
        if goingAway && inFlight.isEmpty { closeNow() }
    }

    private static func peerCredentials(of channel: Channel) -> PeerCredentials? {
        guard let provider = channel as? SocketOptionProvider else { return nil }
        let future: EventLoopFuture<PeerCred> = provider.unsafeGetSocketOption(
            level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
        // On the channel's own loop the future is already complete, so this runs now.
        var credentials: PeerCredentials?
        future.whenSuccess { credentials = PeerCredentials(uid: $0.uid, gid: $0.gid, pid: $0.pid) }
        return credentials
    }
}

/// `struct ucred`, declared again so it can be Sendable.
struct PeerCred: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
