import CRMProto
import CRMWire
import Foundation
import NIOCore

/// A client that sends exactly the bytes a test wants, malformed ones
/// included, and reads frames back with a timeout.
public final class RawClient {
    private let socket: UnixSocket
    public var fd: Int32 { socket.fd }
    private var inbound = ByteBuffer()
    private var parser = FrameParser(maxPayloadBytes: 64 * 1024 * 1024)

    public init(path: String) throws {
        socket = try UnixSocket(connectingTo: path)
    }

    /// Sends the client preface and checks the server accepted it.
    public func handshake() throws {
        try send(Preface.clientBytes())
        let answer = try readExactly(Preface.length)
        guard Preface.parse(answer)?.field == 0 else { throw TestFailure("preface refused: \(answer)") }
    }

    public func send(_ bytes: [UInt8]) throws {
        let n = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n == bytes.count else { throw TestFailure("short write") }
    }

    public func sendFrame(_ header: Crm_Rpc_V1_FrameHeader, payload: [UInt8] = []) throws {
        var buffer = ByteBuffer()
        FrameEncoder.write(header, payloadBytes: payload, into: &buffer)
        try send(Array(buffer.readableBytesView))
    }

    public func request(_ id: UInt64, _ method: String, _ payload: [UInt8] = [], timeoutMicros: UInt64 = 0) throws {
        var header = Crm_Rpc_V1_FrameHeader()
        header.callID = id
        header.kind = .request
        header.method = method
        header.timeoutUs = timeoutMicros
        try sendFrame(header, payload: payload)
    }

    /// What is available within `timeout`; empty at end of stream.
    public func readSome(timeout: Double = 5) throws -> [UInt8] {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else { throw TestFailure("nothing to read within \(timeout) s") }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n <= 0 ? [] : Array(chunk[0..<n])
    }

    public func readExactly(_ count: Int, timeout: Double = 5) throws -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            let some = try readSome(timeout: timeout)
            guard !some.isEmpty else { throw TestFailure("closed after \(out.count) of \(count) bytes") }
            out += some
        }
        return out
    }

    /// The next frame, or nil if the server closed the connection.
    public func readFrame(timeout: Double = 5) throws -> (header: Crm_Rpc_V1_FrameHeader, payload: [UInt8])? {
        while true {
            if case .frame(let header, let payload)? = try parser.next(&inbound) {
                return (header, Array(payload.readableBytesView))
            }
            let some = try readSome(timeout: timeout)
            if some.isEmpty { return nil }
            inbound.writeBytes(some)
        }
    }

    /// Reads frames until the server closes; throws if it has not within `timeout`.
    public func framesUntilClosed(timeout: Double = 5) throws -> [Crm_Rpc_V1_FrameHeader] {
        var headers: [Crm_Rpc_V1_FrameHeader] = []
        while let frame = try readFrame(timeout: timeout) { headers.append(frame.header) }
        return headers
    }
}

extension RawClient {
    /// Shuts the socket without reading what the server sent: its next
    /// writes fail while our unread bytes may still wait on its side. (The
    /// descriptor itself closes when the client is released.)
    public func closeAbruptly() { socket.shutdownBoth() }

    /// Lets the kernel queue `bytes` bytes for the server, so one send can
    /// hand over a whole burst and the client can close before crmd reads it.
    public func setSendBuffer(_ bytes: Int32) {
        var size = bytes
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Sends as much of `bytes` as the server takes before it closes; a
    /// send that fails because the server has gone is not an error here.
    public func sendUntilRefused(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Half-closes, then reads to the end of stream before shutting down.
    public func closeCleanly() {
        _ = Foundation.shutdown(fd, Int32(SHUT_WR))
        while let some = try? readSome(timeout: 2), !some.isEmpty {}
        socket.shutdownBoth()
    }
}
