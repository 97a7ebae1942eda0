import CRMRPCContract
import NIOCore
import Synchronization

/// Handler results on their way back to a connection's loop. Workers push;
/// only the first push of a burst wakes the loop, which then answers every
/// result waiting and flushes once: under load, one wake-up and one write
/// serve many calls.
final class CompletionQueue: Sendable {
    struct Done {
        let id: UInt64
        let call: PluginCall
        let status: Int32
    }

    private let state = Mutex<(waiting: [Done], drainScheduled: Bool)>(([], false))

    /// Queues a result; true if the caller must schedule a drain on the loop.
    func push(_ done: Done) -> Bool {
        state.withLock { state in
            state.waiting.append(done)
            defer { state.drainScheduled = true }
            return !state.drainScheduled
        }
    }

    func takeAll() -> [Done] {
        state.withLock { state in
            state.drainScheduled = false
            defer { state.waiting.removeAll(keepingCapacity: true) }
            return state.waiting
        }
    }
}

extension ConnectionHandler {
    /// Answers every handler that finished since the last drain; on the loop.
    func drainCompletions() {
        for done in completions.takeAll() { answer(done.id, done.call, status: done.status) }
        flushIfNeeded()
        closeIfDrained()
    }

    /// Writes the answer of a finished handler, without flushing.
    private func answer(_ id: UInt64, _ call: PluginCall, status: Int32) {
        guard case .plugin(let current, let deadline)? = inFlight[id], current === call else { return }
        inFlight.removeValue(forKey: id)
        deadline?.cancel()
        // The handler may see the deadline (as cancellation) a moment before
        // the timer fires here; the client must still get DEADLINE_EXCEEDED.
        if call.deadlineUnixMicros != 0 && Clock.unixMicros() >= call.deadlineUnixMicros {
            writeResponse(id, .deadlineExceeded, "deadline exceeded", payload: [])
            return
        }
        if let failure = call.streamFailure {
            writeResponse(id, Crm_Rpc_V1_StatusCode(code: failure.status), failure.message, payload: [])
            return
        }
        let code = Crm_Rpc_V1_StatusCode(code: status)
        if code == .ok && !call.method.serverStreaming {
            if call.response.count > limits.maxMessageBytes {
                writeResponse(id, .resourceExhausted,
                              "response of \(call.response.count) bytes is over the \(limits.maxMessageBytes)-byte limit",
                              payload: [])
            } else {
                writeResponse(id, .ok, "", payload: call.response)
            }
        } else {
            writeResponse(id, code, code == .ok ? "" : call.statusMessage, payload: [])
        }
    }
}
