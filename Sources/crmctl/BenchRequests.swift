import ArgumentParser
import CRMClient
import CRMWire
import Foundation
import SwiftProtobuf

/// What the load commands (bench, bench-events) share about their requests:
/// the "$RANDOM" range and the JSON type of a method's request.
enum BenchRequests {
    /// MIN:MAX with MIN <= MAX; nil for anything else.
    static func randomRange(_ text: String?) -> ClosedRange<Int64>? {
        guard let parts = text?.split(separator: ":", omittingEmptySubsequences: false), parts.count == 2,
              let low = Int64(parts[0]), let high = Int64(parts[1]), low <= high else { return nil }
        return low...high
    }

    /// The request type crmd lists for `method`, if crmctl can map it to JSON;
    /// `otherwise` ends the error message (what the user can do instead).
    static func requestType(_ client: Connection, method: String, otherwise: String = "") async throws -> any Message.Type {
        let services = try await listServices(client)
        guard let info = services.lazy.flatMap(\.methods).first(where: { $0.fullName == method }),
              let type = MessageRegistry.type(named: info.requestType) else {
            throw RPCError(.invalidArgument, "no JSON mapping for \(method)'s request" + otherwise)
        }
        return type
    }
}
