import CRMProto
import CRMWire
import NIOCore

/// Health.Watch streams and the connection's part in a graceful shutdown.
extension ConnectionHandler {
    func startHealthWatch(_ id: UInt64) {
        inFlight[id] = .healthWatch
        sendHealth(to: id)
    }

    private func sendHealth(to id: UInt64) {
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = id
        header.kind = .message
        let response = (try? KernelServices.healthResponse(router: shared.router, health: shared.health, service: "")) ?? .init()
        let bytes: [UInt8] = (try? response.serializedBytes()) ?? []
        write(header, payload: context.channel.allocator.buffer(bytes: bytes))
    }

    /// Stop taking calls: GOAWAY, end the health streams (with a last
    /// NOT_SERVING message), and close once the calls in flight are answered.
    func beginShutdown() {
        guard !closed, !goingAway else { return }
        goingAway = true
        sendGoAway(.unavailable, "server is shutting down")
        for (id, call) in inFlight {
            guard case .healthWatch = call else { continue }
            sendHealth(to: id)
            finishEarly(id, .unavailable, "server is shutting down")
        }
        flushIfNeeded()
        closeIfDrained()
    }

    /// The grace period is over: answer what is left and close.
    func forceClose() {
        guard !closed else { return }
        for id in Array(inFlight.keys) { finishEarly(id, .unavailable, "server shut down before the call finished") }
        closeNow()
    }
}
