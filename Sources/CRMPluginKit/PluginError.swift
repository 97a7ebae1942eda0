import CRMPluginABI

/// gRPC's status codes, as the plugin ABI numbers them.
public enum StatusCode: Int32, Sendable {
    case ok = 0, cancelled, unknown, invalidArgument, deadlineExceeded, notFound, alreadyExists,
         permissionDenied, resourceExhausted, failedPrecondition, aborted, outOfRange,
         unimplemented, `internal`, unavailable, dataLoss, unauthenticated
}

/// Throw this from a handler to answer with a status and a message for the
/// caller. Any other error becomes INTERNAL, and its text is only logged.
public struct PluginError: Error, CustomStringConvertible, Sendable {
    public var status: StatusCode
    public var message: String

    public init(_ status: StatusCode, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status): \(message)" }

    public static func invalidArgument(_ message: String) -> PluginError { .init(.invalidArgument, message) }
    public static func notFound(_ message: String) -> PluginError { .init(.notFound, message) }
    public static func alreadyExists(_ message: String) -> PluginError { .init(.alreadyExists, message) }
    public static func failedPrecondition(_ message: String) -> PluginError { .init(.failedPrecondition, message) }
}
