import Foundation

/// What `crm-web` serves with, from its command line.
public struct WebConfig: Sendable {
    /// crmd's socket: `--socket`, else `CRM_SOCKET`, else `./crm.sock`.
    public var socketPath: String
    public var host = "127.0.0.1"
    public var port = 8080
    /// Holds `web.db`, the web users and their sign-in failures.
    public var dataDir = "./web-data"
    /// bcrypt's cost for the stand-in hash an unknown name is checked
    /// against, so it takes as long as a real user's check.
    public var bcryptCost: UInt8 = 12
    /// Marks the session cookie Secure. There is no TLS in crm-web yet: set
    /// it when a TLS-terminating proxy is in front.
    public var secureCookies = false
    /// The origin browsers reach crm-web at ("https://crm.example.com");
    /// nil: the request's own Host, with https when `secureCookies`.
    public var publicOrigin: String?
    public var sessionIdleSeconds: Int64 = 30 * 60
    public var sessionMaxSeconds: Int64 = 12 * 3600
    /// Failed sign-ins in a row that lock a name, and for how long.
    public var lockoutFailures = 5
    public var lockoutSeconds: Int64 = 15 * 60
    /// The CRM user survey links are answered as (a role with
    /// service.survey.respond only); nil: /service/survey is not served.
    public var surveyUser: String?

    public init(socketPath: String) { self.socketPath = socketPath }

    /// "HOST:PORT" ("[::1]:8080" for IPv6); nil when it is not one.
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        return (host, port)
    }
}

/// Microseconds since the Unix epoch, UTC, as every time in the CRM.
public func nowMicros() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }
