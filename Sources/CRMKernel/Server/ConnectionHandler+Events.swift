import CRMKernelContract
import CRMRPCContract
import CRMWire
import NIOCore

/// `Events/Subscribe` on a connection: the stream runs on its own thread and
/// comes back to this loop only to write frames and to end the call.
extension ConnectionHandler {
    func startEventStream(_ id: UInt64, _ payload: ByteBuffer, deadline: Scheduled<Void>?) {
        func refuse(_ status: Crm_Rpc_V1_StatusCode, _ message: String) {
            deadline?.cancel()
            writeResponse(id, status, message, payload: [])
        }
        guard let storage = shared.storage else { return refuse(.unavailable, "this crmd has no event log") }
        guard EventStream.active.load(ordering: .relaxed) < EventStream.maxActive else {
            return refuse(.resourceExhausted, "more than \(EventStream.maxActive) event subscriptions are open")
        }
        let stream: EventStream
        do {
            let request = try Crm_Kernel_V1_SubscribeRequest(buffer: payload)
            stream = try EventStream(id: id, request: request, storage: storage, stallMillis: limits.idleTimeoutMillis)
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
