public enum ClientError: Error, CustomStringConvertible {
    case connect(String)
    case refused(String)

    public var description: String {
        switch self {
        case .connect(let reason): return reason
        case .refused(let reason): return "server refused the connection: \(reason)"
        }
    }
}
