import CRMRPCContract
import CRMWire
import Foundation
import NIOCore
import SwiftProtobuf
import Synchronization

/// The connection's state and its reader thread. The thread keeps the core
/// alive until the socket closes; `Connection` closes it when dropped.
final class ConnectionCore: @unchecked Sendable {
    enum Pending {
        case unary(CheckedContinuation<[UInt8], Error>)
        case stream(AsyncThrowingStream<[UInt8], Error>.Continuation)
        case ping(CheckedContinuation<[UInt8], Error>)
    }

    private let socket: UnixSocket
    private let writeLock = Mutex(())
    private let state = Mutex(State())
    private let nextID = Atomic<UInt64>(1)

    struct State {
        var pending: [UInt64: Pending] = [:]
        var pings: [(token: UInt64, waiter: Pending)] = []
        var closedReason: String?
        var goAway: RPCError?
    }

    /// Why the server said GOAWAY, if it did.
    var goAway: RPCError? { state.withLock { $0.goAway } }

    /// Connects and exchanges the preface. Blocks until the server answers it.
    init(path: String, maxMessageBytes: Int) throws {
        do {
            socket = try UnixSocket(connectingTo: path)
        } catch {
            throw ClientError.connect("\(error)")
        }
        try socket.writeAll(Preface.clientBytes())
        let answer: [UInt8]
        do { answer = try socket.readExactly(Preface.length) } catch {
            throw ClientError.refused("closed during the preface")
        }
        guard let (version, status) = Preface.parse(answer) else { throw ClientError.refused("not a crm server") }
        guard status == 0 else {
            let code = Crm_Rpc_V1_StatusCode(code: Int32(status))
            throw ClientError.refused("\(code.name) (server speaks protocol \(version))")
        }
        let thread = Thread { [self] in self.readLoop(maxMessageBytes: maxMessageBytes) }
        thread.name = "crm-client-reader"
        thread.start()
    }

    /// Closes the socket; the reader then fails what is in flight with UNAVAILABLE.
    func close() { socket.shutdownBoth() }

    // MARK: calls

    /// A unary call with raw payload bytes.
    func call(_ method: String, _ request: [UInt8], metadata: [String: String] = [:],
                     timeout: Duration? = nil) async throws -> [UInt8] {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let registered = state.withLock { s -> String? in
                    if let reason = s.closedReason { return reason }
                    s.pending[id] = .unary(continuation)
                    return nil
                }
                if let reason = registered {
                    continuation.resume(throwing: RPCError(.unavailable, reason))
                    return
                }
                do {
                    try sendRequest(id, method, request, metadata, timeout)
                } catch {
                    failCall(id, RPCError(.unavailable, "\(error)"))
                }
            }
        } onCancel: {
            cancel(callID: id)
        }
    }

    /// A server-streaming call: the messages, then the end of the stream
    /// (or the error status). Ending iteration early cancels the call.
    func stream(_ method: String, _ request: [UInt8], metadata: [String: String] = [:],
                       timeout: Duration? = nil) -> (id: UInt64, messages: AsyncThrowingStream<[UInt8], Error>) {
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let (stream, continuation) = AsyncThrowingStream<[UInt8], Error>.makeStream(bufferingPolicy: .unbounded)
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.cancel(callID: id) }
        }
        let closed = state.withLock { s -> String? in
            if let reason = s.closedReason { return reason }
            s.pending[id] = .stream(continuation)
            return nil
        }
        if let closed {
            continuation.finish(throwing: RPCError(.unavailable, closed))
        } else {
            do { try sendRequest(id, method, request, metadata, timeout) } catch {
                failCall(id, RPCError(.unavailable, "\(error)"))
            }
        }
        return (id, stream)
    }

    /// Asks the server to cancel a call; its answer (CANCELLED) still arrives.
    func cancel(callID: UInt64) {
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = callID
        header.kind = .cancel
        try? sendFrame(header, [UInt8]())
    }

    /// PING; returns the PONG's payload.
    func ping(_ payload: [UInt8] = []) async throws -> [UInt8] {
        let token = nextID.add(1, ordering: .relaxed).oldValue
        return try await withCheckedThrowingContinuation { continuation in
            // Whoever removes the waiter from `pings` resumes it, exactly once.
            let closed = state.withLock { s -> String? in
                if let reason = s.closedReason { return reason }
                s.pings.append((token, .ping(continuation)))
                return nil
            }
            if let closed {
                continuation.resume(throwing: RPCError(.unavailable, closed))
                return
            }
            var header = Crm_Rpc_V1_FrameHeader()
            header.kind = .ping
            do { try sendFrame(header, payload) } catch {
                let waiter = state.withLock { s -> Pending? in
                    guard let index = s.pings.firstIndex(where: { $0.token == token }) else { return nil }
                    return s.pings.remove(at: index).waiter
                }
                if let waiter { resume(waiter, with: .failure(RPCError(.unavailable, "\(error)"))) }
            }
        }
    }

    private func sendRequest(_ id: UInt64, _ method: String, _ payload: [UInt8],
                             _ metadata: [String: String], _ timeout: Duration?) throws {
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = id
        header.kind = .request
        header.method = method
        header.metadata = metadata.sorted { $0.key < $1.key }.map { entry in
            .with { $0.key = entry.key; $0.value = entry.value }
        }
        if let timeout {
            let (seconds, attos) = timeout.components
            header.timeoutUs = max(1, UInt64(seconds) * 1_000_000 + UInt64(attos / 1_000_000_000_000))
        }
        try sendFrame(header, payload)
    }

    /// Sends one frame as one write, so frames from concurrent calls never interleave.
    public func sendFrame(_ header: Crm_Rpc_V1_FrameHeader, _ payload: [UInt8]) throws {
        var out = ByteBuffer()
        FrameEncoder.write(header, payloadBytes: payload, into: &out)
        try writeLock.withLock { _ in
            try out.withUnsafeReadableBytes { try socket.writeAll($0) }
        }
    }

    // MARK: reading

    private func readLoop(maxMessageBytes: Int) {
        var parser = FrameParser(maxPayloadBytes: maxMessageBytes)
        var buffer = ByteBuffer()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var reason = "server closed the connection"
        readLoop: while true {
            let n: Int
            do { n = try chunk.withUnsafeMutableBytes { try socket.read(into: $0) } } catch {
                reason = "\(error)"
                break
            }
            if n == 0 { break }
            buffer.writeBytes(chunk[0..<n])
            do {
                while let event = try parser.next(&buffer) {
                    guard case .frame(let header, let payload) = event else {
                        reason = "server sent a message over \(maxMessageBytes) bytes"
                        break readLoop
                    }
                    deliver(header, Array(payload.readableBytesView))
                }
            } catch {
                reason = "protocol error from server: \(error)"
                break
            }
            buffer.discardReadBytes()
        }
        let goAway = state.withLock { $0.goAway }
        let orphaned = state.withLock { s -> [Pending] in
            s.closedReason = goAway.map { "\($0)" } ?? reason
            let all = Array(s.pending.values) + s.pings.map(\.waiter)
            s.pending.removeAll()
            s.pings.removeAll()
            return all
        }
        let error = RPCError(.unavailable, goAway.map { "server went away: \($0.message)" } ?? reason)
        for pending in orphaned { resume(pending, with: .failure(error)) }
    }

    private func deliver(_ header: Crm_Rpc_V1_FrameHeader, _ payload: [UInt8]) {
        switch header.kind {
        case .response:
            guard let pending = state.withLock({ $0.pending.removeValue(forKey: header.callID) }) else { return }
            if header.status == .ok {
                resume(pending, with: .success(payload))
            } else {
                resume(pending, with: .failure(RPCError(header.status, header.statusMessage)))
            }
        case .message:
            if case .stream(let continuation)? = state.withLock({ $0.pending[header.callID] }) {
                continuation.yield(payload)
            }
        case .pong:
            let waiter = state.withLock { s -> Pending? in s.pings.isEmpty ? nil : s.pings.removeFirst().waiter }
            if let waiter { resume(waiter, with: .success(payload)) }
        case .goaway:
            state.withLock { $0.goAway = RPCError(header.status, header.statusMessage) }
        case .ping:
            var pong = header
            pong.kind = .pong
            try? sendFrame(pong, payload)
        default:
            break
        }
    }

    private func failCall(_ id: UInt64, _ error: RPCError) {
        if let pending = state.withLock({ $0.pending.removeValue(forKey: id) }) {
            resume(pending, with: .failure(error))
        }
    }

    private func resume(_ pending: Pending, with result: Result<[UInt8], Error>) {
        switch pending {
        case .unary(let c), .ping(let c): c.resume(with: result)
        case .stream(let c):
            switch result {
            case .success: c.finish()
            case .failure(let error): c.finish(throwing: error)
            }
        }
    }
}
