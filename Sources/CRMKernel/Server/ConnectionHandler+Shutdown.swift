import CRMKernelContract
import CRMRPCContract
import CRMWire
import NIOCore

/// Health.Watch streams and the connection's part in a graceful shutdown.
extension ConnectionHandler {
    func startHealthWatch(_ id: UInt64, _ payload: ByteBuffer, deadline: Scheduled<Void>?) {
        let request: Crm_Kernel_V1_HealthCheckRequest
        do { request = try Crm_Kernel_V1_HealthCheckRequest(buffer: payload) } catch {
            deadline?.cancel()
            return writeResponse(id, .invalidArgument, "request does not decode as crm.kernel.v1.HealthCheckRequest", payload: [])
        }
        inFlight[id] = .healthWatch(service: request.service, deadline: deadline)
        sendHealth(to: id, service: request.service)
    }

    private func sendHealth(to id: UInt64, service: String) {
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = id
        header.kind = .message
        let answer = service.isEmpty ? shared.health.wholeServerAnswer
            : ((try? HealthService.response(router: shared.router, serving: shared.health.isServing, service: service)
                .serializedBytes()) ?? [])
        write(header, payload: Self.allocator.buffer(bytes: answer))
    }

    /// Stop taking calls: GOAWAY, end the health streams (with a last
    /// NOT_SERVING message) and event streams, and close once the calls in
    /// flight are answered.
    func beginShutdown() {
        guard !closed, !goingAway else { return }
        goingAway = true
        sendGoAway(.unavailable, "server is shutting down")
        for (id, call) in inFlight {
            switch call {
            case .healthWatch(let service, _):
                sendHealth(to: id, service: service)
                finishEarly(id, .unavailable, "server is shutting down")
            case .events:
                finishEarly(id, .unavailable, "server is shutting down")
            case .plugin:
                break
            }
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
