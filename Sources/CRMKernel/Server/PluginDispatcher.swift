import CRMRPCContract
import CRMWire
import Dispatch
import NIOCore
import NIOPosix
import Synchronization

/// Runs plugin handlers on worker threads, never on an event loop, and
/// sends their results back to the connection's loop.
final class PluginDispatcher: Sendable {
    private let pool: WorkerPool
    private let running = Atomic<Int>(0)

    /// `threads`: the most handlers that may run at once, stalled ones included.
    init(threads: Int) {
        pool = WorkerPool(maxThreads: threads)
    }

    /// Handlers still running (the shutdown waits for them before plugin shutdown hooks).
    var activeHandlers: Int { running.load(ordering: .relaxed) }

    func run(_ call: PluginCall, id: UInt64, payload: ByteBuffer, on connection: ConnectionHandler) {
        let loop = connection.context.eventLoop
        let channel = connection.context.channel
        let maxMessage = connection.limits.maxMessageBytes
        let stallMillis = connection.limits.idleTimeoutMillis
        let completions = connection.completions
        if call.method.serverStreaming {
            let box = UnsafeTransfer(connection)
            // The sink holds the call weakly: the call owns the sink.
            call.streamSink = { [weak call] bytes in
                guard let call else { return Int32(Crm_Rpc_V1_StatusCode.cancelled.rawValue) }
                return Self.sendStreamMessage(bytes, id: id, call: call, channel: channel, maxMessage: maxMessage,
                                              stallMillis: stallMillis) { frame in
                    loop.flatSubmit { box.value.writeStreamFrame(frame, id: id, call: call) }
                }
            }
        }
        running.add(1, ordering: .relaxed)
        let box = UnsafeTransfer(connection)
        /// Hands the handler's status to the connection's loop (one wake-up per burst).
        let answer = { [self] (status: Int32) in
            call.streamSink = nil
            if completions.push(.init(id: id, call: call, status: status)) {
                loop.execute { box.value.drainCompletions() }
            }
            running.subtract(1, ordering: .relaxed)
        }
        // Writing unary calls go straight to the writer thread: no worker
        // sleeps through the commit, and a group's answers wake the loop once.
        if call.method.writes && !call.method.serverStreaming, let storage = HostAPI.storage {
            call.submitWrite(request: payload, to: storage, done: answer)
            return
        }
        pool.submit {
            if call.isCancelled {
                answer(Int32(Crm_Rpc_V1_StatusCode.cancelled.rawValue))
            } else {
                answer(payload.withUnsafeReadableBytes { call.runWithStorage(request: $0) })
            }
        }
    }

    /// Writes one MESSAGE frame and waits until the socket took it: a client
    /// that reads slowly slows the plugin down instead of growing a buffer.
    /// The wait ends early on cancellation or deadline, and a client that
    /// takes nothing for the idle timeout gets the call cancelled, so no
    /// worker thread can be held forever.
    private static func sendStreamMessage(_ bytes: UnsafeRawBufferPointer, id: UInt64, call: PluginCall,
                                          channel: Channel, maxMessage: Int, stallMillis: Int64,
                                          write: (ByteBuffer) -> EventLoopFuture<Void>) -> Int32 {
        guard bytes.count <= maxMessage else {
            call.failStream(Int32(Crm_Rpc_V1_StatusCode.resourceExhausted.rawValue),
                            "stream message of \(bytes.count) bytes is over the \(maxMessage)-byte limit")
            return Int32(Crm_Rpc_V1_StatusCode.resourceExhausted.rawValue)
        }
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = id
        header.kind = .message
        var out = channel.allocator.buffer(capacity: 32 + bytes.count)
        FrameEncoder.write(header, payloadBytes: bytes, into: &out)
        let done = DispatchSemaphore(value: 0)
        let failed = Atomic<Bool>(false)
        write(out).whenComplete { result in
            if case .failure = result { failed.store(true, ordering: .relaxed) }
            done.signal()
        }
        let stallDeadline = DispatchTime.now() + .milliseconds(Int(clamping: stallMillis))
        while done.wait(timeout: .now() + .milliseconds(50)) == .timedOut {
            if call.isCancelled { return Int32(Crm_Rpc_V1_StatusCode.cancelled.rawValue) }
            if DispatchTime.now() >= stallDeadline {
                call.cancel()
                call.failStream(Int32(Crm_Rpc_V1_StatusCode.cancelled.rawValue), "client stopped reading the stream")
                return Int32(Crm_Rpc_V1_StatusCode.cancelled.rawValue)
            }
        }
        if failed.load(ordering: .relaxed) {
            call.cancel()
            return Int32(Crm_Rpc_V1_StatusCode.cancelled.rawValue)
        }
        return call.isCancelled ? Int32(Crm_Rpc_V1_StatusCode.cancelled.rawValue) : 0
    }

    func shutdown() {
        pool.stop()
    }
}

/// Carries a loop-bound object across threads; it is only used back on its loop.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
