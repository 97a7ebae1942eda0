import CRMClient
import CRMProto
import Foundation
import SwiftProtobuf

public let marketingService = "/crm.marketing.v1.Marketing/"

/// Typed calls to the marketing plugin over the socket, for tests. Each
/// feature's helpers live in a file of their own beside this one.
public struct MarketingClient {
    public let connection: Connection
    /// Sent with every call: `["crm-user": name]` acts for that CRM user
    /// when this process is crmd's trusted proxy (AccessSupport).
    public let metadata: [String: String]

    public init(connection: Connection, metadata: [String: String] = [:]) {
        self.connection = connection
        self.metadata = metadata
    }

    public func call<Response: Message>(_ method: String, _ request: some Message, as: Response.Type = Response.self) async throws -> Response {
        try await connection.call(marketingService + method, request, as: Response.self, metadata: metadata)
    }
}
