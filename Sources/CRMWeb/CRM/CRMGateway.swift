import CRMClient
import CRMRPCContract
import CRMWire
import SwiftProtobuf
import Synchronization

/// crm-web's side of crmd's socket: one connection, shared by every request
/// (many calls may be in flight on it), opened on first use and again after
/// it breaks.
///
/// Every call acts for a web user through the trusted-proxy `crm-user`
/// metadata (docs/ACCESS.md). There is no call without one: crm-web runs
/// as a uid crmd trusts, often crmd's own, which without `crm-user` would
/// be an administrator.
public final class CRMGateway: Sendable {
    public let socketPath: String
    private let connection = Mutex<Connection?>(nil)
    private let timeout: Duration

    public init(socketPath: String, timeout: Duration = .seconds(15)) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// A unary call acting for `user`. A read whose connection broke is
    /// tried once more on a new one; a write is not (it may have happened).
    public func call<Request: Message, Response: Message>(
        _ method: String, _ request: Request, as: Response.Type = Response.self,
        for user: String, retryable: Bool = false
    ) async throws -> Response {
        guard !user.isEmpty else { throw RPCError(.permissionDenied, "no web user to act for") }
        let metadata = ["crm-user": user]
        let first = try open()
        do {
            return try await first.call(method, request, as: Response.self, metadata: metadata, timeout: timeout)
        } catch let error as RPCError where error.code == .unavailable {
            drop(first)
            guard retryable else { throw error }
            return try await open().call(method, request, as: Response.self, metadata: metadata, timeout: timeout)
        }
    }

    private func open() throws -> Connection {
        try connection.withLock { current in
            if let current { return current }
            do {
                let fresh = try Connection(path: socketPath)
                current = fresh
                return fresh
            } catch {
                throw RPCError(.unavailable, "crmd is not reachable on \(socketPath): \(error)")
            }
        }
    }

    private func drop(_ broken: Connection) {
        connection.withLock { current in
            if current === broken { current = nil }
        }
        broken.close()
    }
}
