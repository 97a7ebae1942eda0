import CRMWire
import Foundation

/// A blocking socket with the preface done, for the load generator's threads.
struct RawSocket {
    private let socket: UnixSocket

    init(path: String) throws {
        do {
            socket = try UnixSocket(connectingTo: path)
            try socket.writeAll(Preface.clientBytes())
            guard let (_, status) = Preface.parse(try socket.readExactly(Preface.length)), status == 0 else {
                throw RPCError(.unavailable, "preface refused")
            }
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(.unavailable, "\(error)")
        }
    }

    func writeAll(_ bytes: [UInt8]) throws { try socket.writeAll(bytes) }

    func read(_ buffer: inout [UInt8]) throws -> Int {
        try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
    }

    func close() { socket.shutdownBoth() }
}
