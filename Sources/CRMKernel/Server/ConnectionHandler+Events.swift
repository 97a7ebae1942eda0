import CRMKernelContract
import CRMRPCContract
import CRMWire
import NIOCore

/// `Events/Subscribe` on a connection: the stream runs on its own thread and
/// comes back to this loop only to write frames and to end the call.
extension ConnectionHandler {
    /// `principal` is who `authorize` found the call acts for; the stream
    /// resolves the same uid and crm-user again after an Access change.
    func startEventStream(_ header: Crm_Rpc_V1_FrameHeader, _ payload: ByteBuffer, principal: Principal?,
                          permission: String, deadline: Scheduled<Void>?) {
        let id = header.callID
        func refuse(_ status: Crm_Rpc_V1_StatusCode, _ message: String) {
            deadline?.cancel()
            writeResponse(id, status, message, payload: [])
        }
        guard let storage = shared.storage else { return refuse(.unavailable, "this crmd has no event log") }
        // authorize lets no one through without a principal; nil here would be a bug, not a caller.
        guard let principal, let peer else { return refuse(.permissionDenied, "the caller is not known") }
        guard EventStream.active.load(ordering: .relaxed) < EventStream.maxActive else {
            return refuse(.resourceExhausted, "more than \(EventStream.maxActive) event subscriptions are open")
        }
        let stream: EventStream
        do {
            let request = try Crm_Kernel_V1_SubscribeRequest(buffer: payload)
            let asserted = assertedUser(header, peer)
            let version = accessSnapshot?.version ?? 0
            stream = try EventStream(id: id, request: request, storage: storage, stallMillis: limits.idleTimeoutMillis) {
                [shared] patterns in
                EventFilter(principal: principal, version: version, uid: peer.uid, assertedUser: asserted,
                            permission: permission, patterns: patterns, readPermissions: shared.eventReadPermissions,
                            access: shared.access)
            }
        } catch let error as RPCError {
            return refuse(error.code, error.message)
        } catch {
            return refuse(.invalidArgument, "request does not decode as crm.kernel.v1.SubscribeRequest")
        }
        let loop = eventLoop!
        let box = UnsafeTransfer(self)
        stream.send = { [weak stream] frames in
            loop.flatSubmit {
                guard let stream, case .events(let current, _)? = box.value.inFlight[id], current === stream,
                      !box.value.closed else {
                    return loop.makeFailedFuture(RPCError(.cancelled, "call ended"))
                }
                box.value.flushIfNeeded()  // keeps frames in order
                return box.value.context.writeAndFlush(box.value.wrapOutboundOut(frames))
            }
        }
        stream.finish = { [weak stream] status, message in
            loop.execute {
                guard let stream, case .events(let current, let deadline)? = box.value.inFlight[id], current === stream else { return }
                box.value.inFlight.removeValue(forKey: id)
                deadline?.cancel()
                box.value.writeResponse(id, status, message, payload: [])
                box.value.flushIfNeeded()
                box.value.closeIfDrained()
            }
        }
        inFlight[id] = .events(stream, deadline: deadline)
        stream.start()
    }
}
