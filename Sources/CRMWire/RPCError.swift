import CRMRPCContract
/// A failed call: a gRPC status code and a message meant for the caller.
///
/// Thrown by the Swift client for any non-OK RESPONSE, and used by the kernel
/// to answer a call with a status of its choosing.
public struct RPCError: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: Crm_Rpc_V1_StatusCode
    public var message: String

    public init(_ code: Crm_Rpc_V1_StatusCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.name): \(message)" }
}

extension Crm_Rpc_V1_StatusCode {
    /// The canonical upper-case name, as gRPC spells it ("NOT_FOUND").
    public var name: String {
        switch self {
        case .ok: return "OK"
        case .cancelled: return "CANCELLED"
        case .unknown: return "UNKNOWN"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .alreadyExists: return "ALREADY_EXISTS"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .resourceExhausted: return "RESOURCE_EXHAUSTED"
        case .failedPrecondition: return "FAILED_PRECONDITION"
        case .aborted: return "ABORTED"
        case .outOfRange: return "OUT_OF_RANGE"
        case .unimplemented: return "UNIMPLEMENTED"
        case .internal: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .dataLoss: return "DATA_LOSS"
        case .unauthenticated: return "UNAUTHENTICATED"
        case .UNRECOGNIZED(let value): return "STATUS_\(value)"
        }
    }

    /// A status from a plain integer (a C return code); out-of-range values are UNKNOWN.
    public init(code: Int32) {
        self = (0...16).contains(code) ? (Crm_Rpc_V1_StatusCode(rawValue: Int(code)) ?? .unknown) : .unknown
    }
}
