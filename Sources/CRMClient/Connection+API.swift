import CRMWire
import Foundation
import SwiftProtobuf

/// One connection to crmd. Many calls may be in flight at once from any
/// number of tasks; a reader thread matches answers to calls by call id.
/// Dropping the last reference closes the connection.
public final class Connection: @unchecked Sendable {
    /// The socket a client uses: `CRM_SOCKET`, else `./crm.sock`.
    public static var defaultSocketPath: String {
        ProcessInfo.processInfo.environment["CRM_SOCKET"] ?? "./crm.sock"
    }

    private let core: ConnectionCore

    /// Connects and exchanges the preface. Blocks until the server answers it.
    public init(path: String = Connection.defaultSocketPath, maxMessageBytes: Int = 64 * 1024 * 1024) throws {
        core = try ConnectionCore(path: path, maxMessageBytes: maxMessageBytes)
    }

    deinit { core.close() }

    /// Closes the connection; calls in flight fail with UNAVAILABLE.
    public func close() { core.close() }

    /// Why the server said GOAWAY, if it did.
    public var goAway: RPCError? { core.goAway }

    /// A unary call with raw payload bytes. Cancelling the task cancels the call.
    public func call(_ method: String, _ request: [UInt8], metadata: [String: String] = [:],
                     timeout: Duration? = nil) async throws -> [UInt8] {
        try await core.call(method, request, metadata: metadata, timeout: timeout)
    }

    /// A unary call with typed messages.
    public func call<Request: Message, Response: Message>(
        _ method: String, _ request: Request, as: Response.Type = Response.self,
        metadata: [String: String] = [:], timeout: Duration? = nil
    ) async throws -> Response {
        let bytes = try await core.call(method, try request.serializedBytes(), metadata: metadata, timeout: timeout)
        return try Response(serializedBytes: bytes)
    }

    /// A server-streaming call: the messages, then the end of the stream (or
    /// the error status). Ending iteration early cancels the call.
    public func stream(_ method: String, _ request: [UInt8], metadata: [String: String] = [:],
                       timeout: Duration? = nil) -> (id: UInt64, messages: AsyncThrowingStream<[UInt8], Error>) {
        core.stream(method, request, metadata: metadata, timeout: timeout)
    }

    /// A server-streaming call with typed messages; a message that does not
    /// decode ends the stream with INTERNAL.
    public func stream<Request: Message, Response: Message>(
        _ method: String, _ request: Request, as: Response.Type = Response.self,
        metadata: [String: String] = [:], timeout: Duration? = nil
    ) throws -> AsyncThrowingMapSequence<AsyncThrowingStream<[UInt8], Error>, Response> {
        let (_, messages) = core.stream(method, try request.serializedBytes(), metadata: metadata, timeout: timeout)
        return messages.map { bytes in
            do { return try Response(serializedBytes: bytes) } catch {
                throw RPCError(.internal, "stream message does not decode as \(Response.protoMessageName)")
            }
        }
    }

    /// Asks the server to cancel a call; its answer (CANCELLED) still arrives.
    public func cancel(callID: UInt64) { core.cancel(callID: callID) }

    /// PING; returns the PONG's payload.
    public func ping(_ payload: [UInt8] = []) async throws -> [UInt8] { try await core.ping(payload) }
}
